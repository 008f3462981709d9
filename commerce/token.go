package commerce

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// LinkKind is what a private link opens.
type LinkKind string

// Link kinds.
const (
	LinkHold   LinkKind = "hold"   // checkout of one hold
	LinkCart   LinkKind = "cart"   // checkout of a cart
	LinkOrders LinkKind = "orders" // the buyer's order history
)

// LinkTarget is what a token opens.
type LinkTarget struct {
	Kind LinkKind
	ID   int64
}

// Token is the stored side of a private link: only the SHA-256 of the
// secret is kept, bound to one buyer and one target, with an expiry.
type Token struct {
	Hash      string // hex SHA-256 of the secret in the URL
	BuyerID   string
	Target    LinkTarget
	CreatedAt time.Time
	ExpiresAt time.Time
}

// TokenStore keeps link tokens.
type TokenStore interface {
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash returns the token stored under hash, or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
}

// tokenBytes is the entropy of a link secret: 256 bits from crypto/rand.
const tokenBytes = 32

// NewTokenSecret returns a fresh URL-safe secret and its hash.
func NewTokenSecret() (secret, hash string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("read random: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret), nil
}

// HashToken is how a secret is looked up: hex SHA-256.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Links mints private checkout links.
type Links struct {
	Store     TokenStore
	PublicURL string
	Now       func() time.Time
}

// Mint creates a link for buyerID to target, valid until expiresAt, and
// returns its URL: {public_url}/checkout/{secret}, or /orders/{secret} for
// the order history. The secret exists only in the returned URL.
func (l *Links) Mint(ctx context.Context, buyerID string, target LinkTarget, expiresAt time.Time) (string, error) {
	secret, hash, err := NewTokenSecret()
	if err != nil {
		return "", err
	}
	err = l.Store.CreateToken(ctx, Token{Hash: hash, BuyerID: buyerID, Target: target, CreatedAt: l.Now().UTC(), ExpiresAt: expiresAt.UTC()})
	if err != nil {
		return "", fmt.Errorf("store link token: %w", err)
	}
	path := "/checkout/"
	if target.Kind == LinkOrders {
		path = "/orders/"
	}
	return strings.TrimRight(l.PublicURL, "/") + path + secret, nil
}

// Resolve returns the token behind a link's secret: ErrNotFound for a
// secret never issued (or malformed), ErrExpired once its time has passed.
func (l *Links) Resolve(ctx context.Context, secret string) (Token, error) {
	if len(secret) < 40 || len(secret) > 64 {
		return Token{}, ErrNotFound
	}
	t, err := l.Store.TokenByHash(ctx, HashToken(secret))
	if err != nil {
		return Token{}, err
	}
	if !l.Now().Before(t.ExpiresAt) {
		return t, ErrExpired
	}
	return t, nil
}
