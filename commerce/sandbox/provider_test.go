package sandbox

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

var testNow = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newTestProvider(t *testing.T) (*Provider, *clock) {
	t.Helper()
	c := &clock{t: testNow}
	return &Provider{
		Secret:    []byte("0123456789abcdef0123456789abcdef-test"),
		PublicURL: "https://shop.example/",
		Now:       c.Now,
	}, c
}

func testRequest() commerce.PaymentRequest {
	return commerce.PaymentRequest{
		OrderID:     42,
		Reference:   "HC-000042",
		BuyerID:     "buyer-1",
		Amount:      commerce.Money{Amount: 2500, Currency: "USD"},
		Description: "1 × Tote bag (blue)",
		Email:       "ada@example.com",
		ReturnURL:   "https://shop.example/checkout/tok/done",
		CancelURL:   "https://shop.example/checkout/tok",
		ExpiresAt:   testNow.Add(15 * time.Minute),
		SaveMethod:  true,
	}
}

func startSession(t *testing.T, p *Provider, r commerce.PaymentRequest) (commerce.PaymentSession, Session) {
	t.Helper()
	ps, err := p.StartPayment(context.Background(), r)
	if err != nil {
		t.Fatalf("StartPayment: %v", err)
	}
	s, err := p.Session(ps.ID)
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	return ps, s
}

func TestProviderIsAPaymentProvider(t *testing.T) {
	var pp commerce.PaymentProvider = &Provider{}
	if pp.Name() != "sandbox" {
		t.Fatalf("Name() = %q, want sandbox", pp.Name())
	}
}

func TestRefundAcceptsOnlyChargesTheSandboxIssues(t *testing.T) {
	p, _ := newTestProvider(t)
	_, s := startSession(t, p, testRequest())
	paid := p.Charge(s, Card{Name: "Ada", Number: "4242424242424242", Exp: "12/30", CSC: "123"})
	declined := p.Charge(s, Card{Name: "Ada", Number: "4000000000000002", Exp: "12/30", CSC: "123"})
	usd := commerce.Money{Amount: 2500, Currency: "USD"}
	cases := []struct {
		name   string
		ref    string
		amount commerce.Money
		want   error
	}{
		{"paid charge", paid.ChargeID, usd, nil},
		{"declined charge id is still one of ours", declined.ChargeID, usd, nil},
		{"stripe charge", "ch_3MmlLrLkdIwHu7ix0snN0B15", usd, commerce.ErrNotFound},
		{"empty", "", usd, commerce.ErrNotFound},
		{"upper-case hex", strings.ToUpper(paid.ChargeID[:7]) + paid.ChargeID[7:], usd, commerce.ErrNotFound},
		{"truncated", paid.ChargeID[:len(paid.ChargeID)-1], usd, commerce.ErrNotFound},
		{"zero amount", paid.ChargeID, commerce.Money{Currency: "USD"}, commerce.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Refund(context.Background(), tc.ref, tc.amount, "refund-HC-000042")
			if tc.want == nil && err != nil {
				t.Fatalf("Refund(%q) = %v, want nil", tc.ref, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Refund(%q) = %v, want %v", tc.ref, err, tc.want)
			}
		})
	}
}

func TestRefundHonoursCancelledContext(t *testing.T) {
	p, _ := newTestProvider(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Refund(ctx, "ch_sbx_000000000000000000000000", commerce.Money{Amount: 1, Currency: "USD"}, "k")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Refund with cancelled ctx = %v, want context.Canceled", err)
	}
}

// The session id travels in a URL (and so in access logs): it must carry
// nothing personal.
func TestSessionURLCarriesNoEmail(t *testing.T) {
	p, _ := newTestProvider(t)
	ps, _ := startSession(t, p, testRequest())
	payload, _, _ := strings.Cut(ps.ID, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		raw = []byte(payload)
	}
	for _, s := range []string{ps.ID, ps.RedirectURL, string(raw)} {
		if strings.Contains(s, "ada@example.com") {
			t.Fatalf("session carries the email: %s", s)
		}
	}
}
