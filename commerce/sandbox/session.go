package sandbox

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// DefaultSessionTTL is how long a session lasts when the request names no
// expiry (PaymentRequest.ExpiresAt is zero).
const DefaultSessionTTL = 30 * time.Minute

// MaxSessionIDLen bounds a session id: it travels in a URL path, and
// Session refuses anything longer before decoding it.
const MaxSessionIDLen = 4096

// sessionLabel separates session signatures from every other MAC.
const sessionLabel = "hashcart/sandbox/session/v1"

// Session is a payment the hosted page may take, as StartPayment issued it.
type Session struct {
	OrderID     int64
	Reference   string
	Amount      commerce.Money
	Description string
	ReturnURL   string
	CancelURL   string
	// ExpiresAt is when the page stops taking the payment (whole seconds).
	ExpiresAt  time.Time
	SaveMethod bool
}

// sessionClaims is the signed payload of a session id. Short keys keep the
// URL short. It is signed, not encrypted, and travels in a URL: it holds
// nothing personal (no email, no address).
type sessionClaims struct {
	OrderID     int64  `json:"oid"`
	Reference   string `json:"ref"`
	Amount      int64  `json:"amt"`
	Currency    string `json:"cur"`
	Description string `json:"desc,omitempty"`
	ReturnURL   string `json:"ret"`
	CancelURL   string `json:"can"`
	Expires     int64  `json:"exp"`
	SaveMethod  bool   `json:"save,omitempty"`
}

// StartPayment starts a hosted payment. The session id is a signed,
// self-contained token: base64url(JSON of the request) "." base64url(HMAC),
// so nothing is stored. RedirectURL is {PublicURL}/pay/sandbox/{id}.
//
// The session expires at r.ExpiresAt (DefaultSessionTTL from now when it is
// zero); a request already expired gets commerce.ErrExpired. A request
// without an order id or reference, with a non-positive amount, an unknown
// currency, or return/cancel URLs that are not absolute http(s) URLs gets
// an error wrapping commerce.ErrInvalid.
//
// The id is readable by whoever holds the URL (only signed, not
// encrypted): it carries the description and email given in r.
func (p *Provider) StartPayment(ctx context.Context, r commerce.PaymentRequest) (commerce.PaymentSession, error) {
	if err := ctx.Err(); err != nil {
		return commerce.PaymentSession{}, fmt.Errorf("start sandbox payment: %w", err)
	}
	if err := p.checkSecret(); err != nil {
		return commerce.PaymentSession{}, fmt.Errorf("start sandbox payment: %w", err)
	}
	if err := validRequest(r); err != nil {
		return commerce.PaymentSession{}, fmt.Errorf("start sandbox payment for order %d: %w", r.OrderID, err)
	}
	now := p.Now()
	exp := r.ExpiresAt
	if exp.IsZero() {
		exp = now.Add(DefaultSessionTTL)
	}
	if !now.Before(exp) {
		return commerce.PaymentSession{}, fmt.Errorf("start sandbox payment for order %d: hold %w", r.OrderID, commerce.ErrExpired)
	}
	payload, err := json.Marshal(sessionClaims{
		OrderID:     r.OrderID,
		Reference:   r.Reference,
		Amount:      r.Amount.Amount,
		Currency:    r.Amount.Currency,
		Description: r.Description,
		ReturnURL:   r.ReturnURL,
		CancelURL:   r.CancelURL,
		Expires:     exp.Unix(),
		SaveMethod:  r.SaveMethod,
	})
	if err != nil {
		return commerce.PaymentSession{}, fmt.Errorf("start sandbox payment: encode session: %w", err)
	}
	body := base64.RawURLEncoding.EncodeToString(payload)
	id := body + "." + base64.RawURLEncoding.EncodeToString(p.mac(sessionLabel, []byte(body)))
	if len(id) > MaxSessionIDLen {
		return commerce.PaymentSession{}, fmt.Errorf("start sandbox payment for order %d: session of %d bytes is too long: %w", r.OrderID, len(id), commerce.ErrInvalid)
	}
	return commerce.PaymentSession{
		ID:          id,
		RedirectURL: strings.TrimRight(p.PublicURL, "/") + "/pay/sandbox/" + id,
	}, nil
}

func validRequest(r commerce.PaymentRequest) error {
	switch {
	case r.OrderID <= 0:
		return fmt.Errorf("order id %d: %w", r.OrderID, commerce.ErrInvalid)
	case r.Reference == "":
		return fmt.Errorf("empty reference: %w", commerce.ErrInvalid)
	case r.Amount.Amount <= 0:
		return fmt.Errorf("amount %s: %w", r.Amount, commerce.ErrInvalid)
	}
	if _, ok := commerce.CurrencyExponent(r.Amount.Currency); !ok {
		return fmt.Errorf("currency %q: %w", r.Amount.Currency, commerce.ErrInvalid)
	}
	if !absoluteHTTP(r.ReturnURL) || !absoluteHTTP(r.CancelURL) {
		return fmt.Errorf("return and cancel URLs must be absolute http(s) URLs: %w", commerce.ErrInvalid)
	}
	return nil
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// Session verifies and decodes a session id. A malformed, forged or
// tampered id gets an error wrapping commerce.ErrNotFound (nothing about
// it is trusted or returned). A genuine id past its expiry gets
// commerce.ErrExpired together with the decoded session, so a page can
// still offer the way back (CancelURL).
func (p *Provider) Session(id string) (Session, error) {
	if err := p.checkSecret(); err != nil {
		return Session{}, fmt.Errorf("sandbox session: %w", err)
	}
	if len(id) > MaxSessionIDLen {
		return Session{}, fmt.Errorf("sandbox session: too long: %w", commerce.ErrNotFound)
	}
	body, sig, ok := strings.Cut(id, ".")
	if !ok {
		return Session{}, fmt.Errorf("sandbox session: no signature: %w", commerce.ErrNotFound)
	}
	gotMAC, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(gotMAC, p.mac(sessionLabel, []byte(body))) {
		return Session{}, fmt.Errorf("sandbox session: bad signature: %w", commerce.ErrNotFound)
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return Session{}, fmt.Errorf("sandbox session: decode: %w", commerce.ErrNotFound)
	}
	var c sessionClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Session{}, fmt.Errorf("sandbox session: decode: %w", commerce.ErrNotFound)
	}
	s := Session{
		OrderID:     c.OrderID,
		Reference:   c.Reference,
		Amount:      commerce.Money{Amount: c.Amount, Currency: c.Currency},
		Description: c.Description,
		ReturnURL:   c.ReturnURL,
		CancelURL:   c.CancelURL,
		ExpiresAt:   time.Unix(c.Expires, 0).UTC(),
		SaveMethod:  c.SaveMethod,
	}
	if !p.Now().Before(s.ExpiresAt) {
		return s, fmt.Errorf("sandbox session for order %d: %w", s.OrderID, commerce.ErrExpired)
	}
	return s, nil
}
