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

func TestStartPaymentSendsBuyerToHostedPage(t *testing.T) {
	p, _ := newTestProvider(t)
	r := testRequest()
	ps, s := startSession(t, p, r)
	if want := "https://shop.example/pay/sandbox/" + ps.ID; ps.RedirectURL != want {
		t.Fatalf("RedirectURL = %q, want %q", ps.RedirectURL, want)
	}
	want := Session{
		OrderID: r.OrderID, Reference: r.Reference, Amount: r.Amount, Description: r.Description,
		ReturnURL: r.ReturnURL, CancelURL: r.CancelURL,
		ExpiresAt: r.ExpiresAt, SaveMethod: true,
	}
	if s != want {
		t.Fatalf("Session() = %+v\nwant        %+v", s, want)
	}
	if strings.ContainsAny(ps.ID, "/?#%+= ") {
		t.Fatalf("session id %q is not URL-path safe", ps.ID)
	}
}

func TestStartPaymentWithoutExpiryLastsDefaultTTL(t *testing.T) {
	p, _ := newTestProvider(t)
	r := testRequest()
	r.ExpiresAt = time.Time{}
	_, s := startSession(t, p, r)
	if want := testNow.Add(DefaultSessionTTL); !s.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v", s.ExpiresAt, want)
	}
}

func TestStartPaymentRefusesBadRequests(t *testing.T) {
	cases := []struct {
		name   string
		change func(r *commerce.PaymentRequest, p *Provider)
		want   error
	}{
		{"no order id", func(r *commerce.PaymentRequest, _ *Provider) { r.OrderID = 0 }, commerce.ErrInvalid},
		{"no reference", func(r *commerce.PaymentRequest, _ *Provider) { r.Reference = "" }, commerce.ErrInvalid},
		{"zero amount", func(r *commerce.PaymentRequest, _ *Provider) { r.Amount.Amount = 0 }, commerce.ErrInvalid},
		{"negative amount", func(r *commerce.PaymentRequest, _ *Provider) { r.Amount.Amount = -5 }, commerce.ErrInvalid},
		{"unknown currency", func(r *commerce.PaymentRequest, _ *Provider) { r.Amount.Currency = "XYZ" }, commerce.ErrInvalid},
		{"relative return URL", func(r *commerce.PaymentRequest, _ *Provider) { r.ReturnURL = "/done" }, commerce.ErrInvalid},
		{"javascript cancel URL", func(r *commerce.PaymentRequest, _ *Provider) { r.CancelURL = "javascript:alert(1)" }, commerce.ErrInvalid},
		{"hold already ended", func(r *commerce.PaymentRequest, _ *Provider) { r.ExpiresAt = testNow }, commerce.ErrExpired},
		{"huge description", func(r *commerce.PaymentRequest, _ *Provider) { r.Description = strings.Repeat("x", 5000) }, commerce.ErrInvalid},
		{"short secret", func(_ *commerce.PaymentRequest, p *Provider) { p.Secret = []byte("short") }, errShortSecret},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newTestProvider(t)
			r := testRequest()
			tc.change(&r, p)
			ps, err := p.StartPayment(context.Background(), r)
			if !errors.Is(err, tc.want) {
				t.Fatalf("StartPayment = %+v, %v; want %v", ps, err, tc.want)
			}
		})
	}
}

func TestSessionRefusesForgedOrTamperedIDs(t *testing.T) {
	p, _ := newTestProvider(t)
	ps, _ := startSession(t, p, testRequest())
	body, sig, _ := strings.Cut(ps.ID, ".")

	other := testRequest()
	other.Amount.Amount = 1
	ops, _ := startSession(t, p, other)
	otherBody, _, _ := strings.Cut(ops.ID, ".")

	forger := &Provider{Secret: []byte("another-secret-another-secret-another"), PublicURL: p.PublicURL, Now: p.Now}
	forged, err := forger.StartPayment(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	// A payload the attacker wrote, with the real signature.
	rewritten := base64.RawURLEncoding.EncodeToString([]byte(`{"oid":42,"ref":"HC-000042","amt":1,"cur":"USD","ret":"https://evil.example","can":"https://evil.example","exp":9999999999}`))

	cases := map[string]string{
		"empty":                        "",
		"no signature":                 body,
		"empty signature":              body + ".",
		"truncated signature":          body + "." + sig[:len(sig)-2],
		"signature not base64":         body + ".!!!",
		"other session's payload":      otherBody + "." + sig,
		"rewritten payload":            rewritten + "." + sig,
		"signed with another secret":   forged.ID,
		"payload with a character off": flip(body) + "." + sig,
		"too long":                     strings.Repeat("a", MaxSessionIDLen+1),
	}
	for name, id := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := p.Session(id)
			if !errors.Is(err, commerce.ErrNotFound) {
				t.Fatalf("Session(%q) = %+v, %v; want ErrNotFound", id, s, err)
			}
			if s != (Session{}) {
				t.Fatalf("forged session decoded to %+v", s)
			}
		})
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[3] == 'A' {
		b[3] = 'B'
	} else {
		b[3] = 'A'
	}
	return string(b)
}

func TestSessionExpiresWithTheHold(t *testing.T) {
	p, c := newTestProvider(t)
	ps, _ := startSession(t, p, testRequest())
	cases := []struct {
		name    string
		at      time.Time
		expired bool
	}{
		{"just started", testNow, false},
		{"one second before", testNow.Add(15*time.Minute - time.Second), false},
		{"at expiry", testNow.Add(15 * time.Minute), true},
		{"long after", testNow.Add(48 * time.Hour), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = tc.at
			s, err := p.Session(ps.ID)
			if got := errors.Is(err, commerce.ErrExpired); got != tc.expired {
				t.Fatalf("Session at %v: err = %v, want expired %v", tc.at, err, tc.expired)
			}
			if tc.expired && s.CancelURL == "" {
				t.Fatalf("expired session lost its CancelURL: %+v", s)
			}
			if !tc.expired && err != nil {
				t.Fatalf("Session: %v", err)
			}
		})
	}
}
