package stripepay

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

func TestStartPaymentOpensCheckoutSessionForTheOrder(t *testing.T) {
	p, rec, cs := withStripeMock(t)
	r := testRequest()
	ps, err := p.StartPayment(context.Background(), r)
	if err != nil {
		t.Fatalf("StartPayment: %v", err)
	}
	if ps.ID == "" || !hasPrefix(ps.RedirectURL, "https://") {
		t.Fatalf("session = %+v, want an id and a URL to send the buyer to", ps)
	}

	customers := rec.to("POST", "/v1/customers")
	if len(customers) != 1 || customers[0].Form.Get("metadata[buyer_id]") != "x-user-7" {
		t.Fatalf("customer requests = %+v, want one with metadata[buyer_id]", customers)
	}
	cus, _ := cs.CustomerRef(context.Background(), "x-user-7")
	if !hasPrefix(cus, "cus_") {
		t.Fatalf("customer ref recorded = %q", cus)
	}

	sessions := rec.to("POST", "/v1/checkout/sessions")
	if len(sessions) != 1 {
		t.Fatalf("%d session requests, want 1", len(sessions))
	}
	s := sessions[0]
	want := map[string]string{
		"mode":                                          "payment",
		"client_reference_id":                           "HC-000042",
		"customer":                                      cus,
		"line_items[0][quantity]":                       "1",
		"line_items[0][price_data][currency]":           "usd",
		"line_items[0][price_data][unit_amount]":        "2500",
		"line_items[0][price_data][product_data][name]": "1 × Ceramic mug",
		"metadata[order_id]":                            "42",
		"metadata[save_method]":                         "true",
		"payment_intent_data[setup_future_usage]":       "off_session",
		"payment_intent_data[metadata][order_id]":       "42",
		"payment_intent_data[receipt_email]":            "ada@example.com",
		"success_url":                                   r.ReturnURL,
		"cancel_url":                                    r.CancelURL,
		"expires_at":                                    strconv.FormatInt(r.ExpiresAt.Unix(), 10),
	}
	for k, v := range want {
		if got := s.Form.Get(k); got != v {
			t.Errorf("session %s = %q, want %q", k, got, v)
		}
	}
	if !hasPrefix(s.IdempotencyKey, "checkout:HC-000042:") {
		t.Errorf("Idempotency-Key = %q, want checkout:HC-000042:...", s.IdempotencyKey)
	}
	if s.Form.Has("customer_email") || s.Form.Has("line_items[0][price_data][unit_amount_decimal]") {
		t.Errorf("session sent unexpected fields: %v", s.Form)
	}
}

func TestStartPaymentWithoutSavingSetsNoFutureUsage(t *testing.T) {
	p, rec, _ := withStripeMock(t)
	r := testRequest()
	r.SaveMethod = false
	if _, err := p.StartPayment(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	s := rec.to("POST", "/v1/checkout/sessions")[0]
	if s.Form.Has("payment_intent_data[setup_future_usage]") || s.Form.Has("metadata[save_method]") {
		t.Fatalf("session asks to keep the method: %v", s.Form)
	}
}

func TestStartPaymentMakesOneCustomerPerBuyer(t *testing.T) {
	p, rec, _ := withStripeMock(t)
	r := testRequest()
	for i := 0; i < 2; i++ {
		if _, err := p.StartPayment(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	other := testRequest()
	other.BuyerID = "x-user-8"
	if _, err := p.StartPayment(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	customers := rec.to("POST", "/v1/customers")
	if len(customers) != 2 {
		t.Fatalf("%d customers created for 2 buyers, want 2", len(customers))
	}
	if k := customers[0].IdempotencyKey; k != "customer:x-user-7" {
		t.Fatalf("customer Idempotency-Key = %q", k)
	}
}

func TestCheckoutIdempotencyKeyOnlyRepeatsForTheSameRequest(t *testing.T) {
	p, rec, _ := withStripeMock(t)
	r := testRequest()
	changed := testRequest()
	changed.SaveMethod = false
	for _, req := range []commerce.PaymentRequest{r, r, changed} {
		if _, err := p.StartPayment(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	s := rec.to("POST", "/v1/checkout/sessions")
	if s[0].IdempotencyKey != s[1].IdempotencyKey {
		t.Fatalf("the same request got keys %q and %q", s[0].IdempotencyKey, s[1].IdempotencyKey)
	}
	if s[0].IdempotencyKey == s[2].IdempotencyKey {
		t.Fatalf("a changed request reused key %q (Stripe would refuse it)", s[2].IdempotencyKey)
	}
}

func TestSessionExpiryFollowsTheHoldWithinStripesWindow(t *testing.T) {
	cases := []struct {
		name string
		hold time.Duration
		want time.Duration
	}{
		{"two-hour hold", 2 * time.Hour, 2 * time.Hour},
		{"fifteen-minute hold gets stripe's minimum", 15 * time.Minute, 31 * time.Minute},
		{"hold at the minimum", 31 * time.Minute, 31 * time.Minute},
		{"two-day hold is cut under a day", 48 * time.Hour, 24*time.Hour - time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := SessionExpiry(testNow, testNow.Add(tc.hold)); !got.Equal(testNow.Add(tc.want)) {
				t.Fatalf("SessionExpiry = now+%s, want now+%s", got.Sub(testNow), tc.want)
			}
		})
	}
}

func TestStartPaymentShortHoldSendsClampedExpiry(t *testing.T) {
	p, rec, _ := withStripeMock(t)
	r := testRequest()
	r.ExpiresAt = testNow.Add(15 * time.Minute)
	if _, err := p.StartPayment(context.Background(), r); err != nil {
		t.Fatalf("StartPayment with a short hold: %v", err)
	}
	got := rec.to("POST", "/v1/checkout/sessions")[0].Form.Get("expires_at")
	if want := strconv.FormatInt(testNow.Add(31*time.Minute).Unix(), 10); got != want {
		t.Fatalf("expires_at = %s, want %s", got, want)
	}
}

func TestStartPaymentRefusesBadRequestsWithoutCallingStripe(t *testing.T) {
	cases := []struct {
		name   string
		change func(*commerce.PaymentRequest)
		want   error
	}{
		{"hold ended", func(r *commerce.PaymentRequest) { r.ExpiresAt = testNow }, commerce.ErrExpired},
		{"zero amount", func(r *commerce.PaymentRequest) { r.Amount.Amount = 0 }, commerce.ErrInvalid},
		{"no currency", func(r *commerce.PaymentRequest) { r.Amount.Currency = "" }, commerce.ErrInvalid},
		{"no reference", func(r *commerce.PaymentRequest) { r.Reference = "" }, commerce.ErrInvalid},
		{"no buyer", func(r *commerce.PaymentRequest) { r.BuyerID = "" }, commerce.ErrInvalid},
		{"relative return url", func(r *commerce.PaymentRequest) { r.ReturnURL = "/done" }, commerce.ErrInvalid},
		{"javascript cancel url", func(r *commerce.PaymentRequest) { r.CancelURL = "javascript:alert(1)" }, commerce.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, rec, _ := newTestProvider(t, deadURL)
			r := testRequest()
			tc.change(&r)
			if _, err := p.StartPayment(context.Background(), r); !errors.Is(err, tc.want) {
				t.Fatalf("StartPayment = %v, want %v", err, tc.want)
			}
			if n := rec.count(); n != 0 {
				t.Fatalf("%d requests sent for a bad request", n)
			}
		})
	}
}
