package sandbox

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// MinSecretLen is the shortest Secret a Provider accepts: a shorter key
// would make sessions and events forgeable.
const MinSecretLen = 32

// errShortSecret is returned by every signing or verifying method when the
// Provider has no usable Secret (a configuration mistake, not a bad input).
var errShortSecret = fmt.Errorf("sandbox secret shorter than %d bytes", MinSecretLen)

// Provider is the sandbox payment provider. It implements
// commerce.PaymentProvider. Its zero value is not usable: Secret, PublicURL
// and Now must be set. It holds no state and is safe for concurrent use.
type Provider struct {
	// Secret signs sessions and events (HMAC-SHA256). At least
	// MinSecretLen bytes; it comes from config or is derived by the caller.
	Secret []byte
	// PublicURL is where hashcart is reachable; the hosted page lives at
	// {PublicURL}/pay/sandbox/{session}.
	PublicURL string
	Now       func() time.Time
}

// Name is the provider's config name, "sandbox".
func (p *Provider) Name() string { return "sandbox" }

// MinSessionLife is 0: a sandbox session expires exactly with its hold.
func (p *Provider) MinSessionLife() time.Duration { return 0 }

// Refund returns a payment in full. The sandbox moves no money, so it only
// checks that paymentRef is a charge id it issues ("ch_sbx_" and 24 hex
// digits) and that amount is positive; it returns an error wrapping
// commerce.ErrNotFound for any other reference and commerce.ErrInvalid for
// a non-positive amount. The idempotency key is accepted and ignored:
// refunding twice is harmless here.
func (p *Provider) Refund(ctx context.Context, paymentRef string, amount commerce.Money, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sandbox refund: %w", err)
	}
	if !validRef(paymentRef, chargePrefix) {
		return fmt.Errorf("sandbox refund %q: %w", paymentRef, commerce.ErrNotFound)
	}
	if amount.Amount <= 0 {
		return fmt.Errorf("sandbox refund %q: amount %s: %w", paymentRef, amount, commerce.ErrInvalid)
	}
	return nil
}

// Prefixes of the ids the sandbox issues.
const (
	chargePrefix   = "ch_sbx_"
	eventPrefix    = "evt_sbx_"
	customerPrefix = "cus_sbx_"
	methodPrefix   = "pm_sbx_"
)

// refHexLen is the number of hex digits after an id's prefix (96 bits).
const refHexLen = 24

// validRef reports whether ref is prefix followed by refHexLen lower-case
// hex digits.
func validRef(ref, prefix string) bool {
	rest, ok := strings.CutPrefix(ref, prefix)
	if !ok || len(rest) != refHexLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// randomRef returns prefix and refHexLen random hex digits.
func randomRef(prefix string) (string, error) {
	b := make([]byte, refHexLen/2)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}

// derivedRef returns prefix and refHexLen hex digits of an HMAC of label
// and data: stable for the same inputs, unguessable without the secret,
// and unrelated to the buyer's identity.
func (p *Provider) derivedRef(prefix, label, data string) string {
	return prefix + hex.EncodeToString(p.mac(label, []byte(data)))[:refHexLen]
}

// mac is HMAC-SHA256 under the secret of label, a zero byte, and msg. The
// label keeps sessions and derived ids apart from each other and from event
// signatures, whose message starts with a digit.
func (p *Provider) mac(label string, msg []byte) []byte {
	m := hmac.New(sha256.New, p.Secret)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write(msg)
	return m.Sum(nil)
}

func (p *Provider) checkSecret() error {
	if len(p.Secret) < MinSecretLen {
		return errShortSecret
	}
	return nil
}
