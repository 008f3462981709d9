package stripepay

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashcart/hashcart/commerce"
)

func savedCard() commerce.SavedMethod {
	return commerce.SavedMethod{Provider: "stripe", CustomerRef: "cus_123", MethodRef: "pm_123", Brand: "Visa", Last4: "4242"}
}

// stripe-mock answers every PaymentIntent with its fixture (status
// requires_payment_method), so it shows the request is one Stripe accepts
// and what was sent; the outcomes are in TestChargeSavedMapsStripeAnswers.
func TestChargeSavedSendsAnOffSessionConfirmedIntent(t *testing.T) {
	p, rec, _ := withStripeMock(t)
	_, err := p.ChargeSaved(context.Background(), testRequest(), savedCard())
	if err == nil || !strings.Contains(err.Error(), "not succeeded") {
		t.Fatalf("ChargeSaved against stripe-mock = %v, want the fixture's unsucceeded status (the request accepted)", err)
	}
	reqs := rec.to("POST", "/v1/payment_intents")
	if len(reqs) != 1 {
		t.Fatalf("%d payment intent requests, want 1", len(reqs))
	}
	r := reqs[0]
	want := map[string]string{
		"amount": "2500", "currency": "usd", "customer": "cus_123", "payment_method": "pm_123",
		"off_session": "true", "confirm": "true", "metadata[order_id]": "42", "receipt_email": "ada@example.com",
	}
	for k, v := range want {
		if got := r.Form.Get(k); got != v {
			t.Errorf("intent %s = %q, want %q", k, got, v)
		}
	}
	if r.IdempotencyKey != "charge:HC-000042" {
		t.Errorf("Idempotency-Key = %q, want charge:HC-000042", r.IdempotencyKey)
	}
}

func TestChargeSavedMapsStripeAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   error // nil: paid
	}{
		{"succeeded", 200, `{"id":"pi_ok","object":"payment_intent","status":"succeeded"}`, nil},
		{"authentication required", 402, `{"error":{"type":"card_error","code":"authentication_required","message":"This payment requires authentication."}}`, commerce.ErrAuthenticationRequired},
		{"intent requires action", 200, `{"id":"pi_3ds","object":"payment_intent","status":"requires_action"}`, commerce.ErrAuthenticationRequired},
		{"payment method gone", 400, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such PaymentMethod"}}`, commerce.ErrInvalid},
		{"card declined", 402, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}`, commerce.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			p, _, _ := newTestProvider(t, srv.URL)
			out, err := p.ChargeSaved(context.Background(), testRequest(), savedCard())
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("ChargeSaved = %+v, %v; want %v", out, err, tc.want)
				}
				if tc.want == commerce.ErrInvalid && errors.Is(err, commerce.ErrAuthenticationRequired) {
					t.Fatalf("a decline reads as authentication required: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ChargeSaved: %v", err)
			}
			if !out.Paid || out.EventID != "pi:pi_ok" || out.PaymentRef != "pi_ok" || out.OrderID != 42 || out.Method == nil || *out.Method != savedCard() {
				t.Fatalf("outcome = %+v", out)
			}
		})
	}
}

func TestChargeSavedRefusesOtherProvidersMethods(t *testing.T) {
	p, rec, _ := newTestProvider(t, deadURL)
	m := savedCard()
	m.Provider = "sandbox"
	if _, err := p.ChargeSaved(context.Background(), testRequest(), m); !errors.Is(err, commerce.ErrInvalid) {
		t.Fatalf("ChargeSaved with a sandbox method = %v, want ErrInvalid", err)
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}
