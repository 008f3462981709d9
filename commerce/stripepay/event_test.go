package stripepay

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"
)

// eventBody is a Stripe event about a Checkout Session.
func eventBody(t *testing.T, id, typ string, session map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": "2025-03-31.basil",
		"created": testNow.Unix(), "data": map[string]any{"object": session},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func paidSession() map[string]any {
	return map[string]any{
		"id": "cs_test_1", "object": "checkout.session", "client_reference_id": "HC-000042",
		"customer": "cus_123", "payment_intent": "pi_123", "payment_status": "paid", "status": "complete",
		"metadata": map[string]string{"order_id": "42"},
	}
}

func sign(body []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
}

func TestVerifyEventChecksSignatureAndReadsSession(t *testing.T) {
	completed := eventBody(t, "evt_1", "checkout.session.completed", paidSession())
	tampered := append([]byte{}, completed...)
	tampered[len(tampered)-3] ^= 1

	expired := paidSession()
	expired["payment_status"], expired["payment_intent"], expired["status"] = "unpaid", nil, "expired"
	unpaid := paidSession()
	unpaid["payment_status"] = "unpaid"
	byReference := paidSession()
	byReference["metadata"] = map[string]string{}
	foreign := paidSession()
	foreign["metadata"], foreign["client_reference_id"] = map[string]string{}, nil
	noIntent := paidSession()
	noIntent["payment_intent"] = nil

	paid := commerce.PaymentOutcome{EventID: "evt_1", OrderID: 42, Paid: true, PaymentRef: "pi_123", Now: testNow}
	cases := []struct {
		name     string
		body     []byte
		header   string
		want     commerce.PaymentOutcome
		released bool
		err      error
	}{
		{"completed and paid", completed, sign(completed, testSecret, testNow), paid, false, nil},
		{"signed 299 s ago", completed, sign(completed, testSecret, testNow.Add(-299*time.Second)), paid, false, nil},
		{"signed 301 s ago", completed, sign(completed, testSecret, testNow.Add(-301*time.Second)), commerce.PaymentOutcome{}, false, ErrSignature},
		{"signed 301 s ahead", completed, sign(completed, testSecret, testNow.Add(301*time.Second)), commerce.PaymentOutcome{}, false, ErrSignature},
		{"tampered body", tampered, sign(completed, testSecret, testNow), commerce.PaymentOutcome{}, false, ErrSignature},
		{"another secret", completed, sign(completed, "whsec_other", testNow), commerce.PaymentOutcome{}, false, ErrSignature},
		{"no header", completed, "", commerce.PaymentOutcome{}, false, ErrSignature},
		{"garbage header", completed, "v1=zz", commerce.PaymentOutcome{}, false, ErrSignature},
		{"expired session releases the hold", eventBody(t, "evt_2", "checkout.session.expired", expired), "", commerce.PaymentOutcome{EventID: "evt_2", OrderID: 42, Now: testNow}, true, nil},
		{"completed but unpaid is ignored", eventBody(t, "evt_3", "checkout.session.completed", unpaid), "", commerce.PaymentOutcome{}, false, nil},
		{"async payment succeeded", eventBody(t, "evt_4", "checkout.session.async_payment_succeeded", unpaid), "", commerce.PaymentOutcome{EventID: "evt_4", OrderID: 42, Paid: true, PaymentRef: "pi_123", Now: testNow}, false, nil},
		{"async payment failed", eventBody(t, "evt_5", "checkout.session.async_payment_failed", unpaid), "", commerce.PaymentOutcome{EventID: "evt_5", OrderID: 42, PaymentRef: "pi_123", Reason: ReasonAsyncFailed, Now: testNow}, false, nil},
		{"order from client_reference_id", eventBody(t, "evt_6", "checkout.session.completed", byReference), "", commerce.PaymentOutcome{EventID: "evt_6", OrderID: 42, Paid: true, PaymentRef: "pi_123", Now: testNow}, false, nil},
		{"session not made by hashcart is ignored", eventBody(t, "evt_7", "checkout.session.completed", foreign), "", commerce.PaymentOutcome{}, false, nil},
		{"other event types are ignored", eventBody(t, "evt_8", "customer.created", map[string]any{"id": "cus_1", "object": "customer"}), "", commerce.PaymentOutcome{}, false, nil},
		{"paid without intent", eventBody(t, "evt_9", "checkout.session.completed", noIntent), "", commerce.PaymentOutcome{}, false, ErrMalformedEvent},
		{"signed non-json", []byte("not json"), "", commerce.PaymentOutcome{}, false, ErrMalformedEvent},
	}
	p, rec, _ := newTestProvider(t, deadURL)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			header := tc.header
			if header == "" && tc.err != ErrSignature {
				header = sign(tc.body, testSecret, testNow)
			}
			o, released, err := p.VerifyEvent(tc.body, header)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("VerifyEvent err = %v, want %v", err, tc.err)
			}
			if o != tc.want || released != tc.released {
				t.Fatalf("VerifyEvent = %+v, released %v; want %+v, released %v", o, released, tc.want, tc.released)
			}
		})
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("VerifyEvent made %d requests", n)
	}
}

func TestOutcomeFetchesTheMethodToKeep(t *testing.T) {
	p, rec, _ := withStripeMock(t)
	s := paidSession()
	s["metadata"] = map[string]string{"order_id": "42", "save_method": "true"}
	body := eventBody(t, "evt_1", "checkout.session.completed", s)
	o, released, err := p.Outcome(context.Background(), body, sign(body, testSecret, testNow))
	if err != nil || released {
		t.Fatalf("Outcome = %+v, %v, %v", o, released, err)
	}
	if !o.Paid || o.EventID != "evt_1" || o.PaymentRef != "pi_123" {
		t.Fatalf("outcome = %+v", o)
	}
	m := o.Method
	if m == nil || m.Provider != "stripe" || !hasPrefix(m.MethodRef, "pm_") || !hasPrefix(m.CustomerRef, "cus_") || m.Brand == "" || len(m.Last4) != 4 {
		t.Fatalf("method = %+v, want a stripe card with brand and last 4", m)
	}
	gets := rec.to("GET", "/v1/payment_intents/pi_123")
	if len(gets) != 1 || gets[0].Query.Get("expand[0]") != "payment_method" {
		t.Fatalf("requests = %+v, want one GET of the intent expanding payment_method", gets)
	}
}

func TestOutcomeWithoutSavingMakesNoRequest(t *testing.T) {
	p, rec, _ := newTestProvider(t, deadURL)
	body := eventBody(t, "evt_1", "checkout.session.completed", paidSession())
	o, _, err := p.Outcome(context.Background(), body, sign(body, testSecret, testNow))
	if err != nil || !o.Paid || o.Method != nil {
		t.Fatalf("Outcome = %+v, %v", o, err)
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("%d requests for an event that keeps no method", n)
	}
}

func TestBrandNameReadsLikeTheLabel(t *testing.T) {
	cases := map[string]string{"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "unknown": "Card", "newbrand": "newbrand"}
	for in, want := range cases {
		if got := brandName(stripeBrand(in)); got != want {
			t.Errorf("brandName(%q) = %q, want %q", in, got, want)
		}
	}
}

func stripeBrand(s string) stripe.PaymentMethodCardBrand { return stripe.PaymentMethodCardBrand(s) }
