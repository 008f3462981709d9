package sandbox

import (
	"context"
	"errors"
	"testing"

	"github.com/hashcart/hashcart/commerce"
)

func TestChargeSavedIsTheSameChargeForTheSameOrder(t *testing.T) {
	p, _ := newTestProvider(t)
	m := commerce.SavedMethod{Provider: "sandbox", MethodRef: "pm_sbx_0123456789abcdef", Brand: "Visa", Last4: "4242"}
	a, err := p.ChargeSaved(context.Background(), testRequest(), m)
	if err != nil || !a.Paid || a.PaymentRef == "" || a.Method == nil || a.Method.Last4 != "4242" {
		t.Fatalf("charge = %+v, %v", a, err)
	}
	b, _ := p.ChargeSaved(context.Background(), testRequest(), m)
	if a.EventID != b.EventID || a.PaymentRef != b.PaymentRef {
		t.Fatalf("two charges of one order differ: %s/%s and %s/%s", a.EventID, a.PaymentRef, b.EventID, b.PaymentRef)
	}
	other := testRequest()
	other.Reference = "HC-000043"
	if c, _ := p.ChargeSaved(context.Background(), other, m); c.PaymentRef == a.PaymentRef {
		t.Fatal("another order got the same charge")
	}
	for _, bad := range []commerce.SavedMethod{{Provider: "stripe", MethodRef: "pm_123"}, {Provider: "sandbox", MethodRef: "card_4242"}} {
		if _, err := p.ChargeSaved(context.Background(), testRequest(), bad); !errors.Is(err, commerce.ErrInvalid) {
			t.Errorf("method %+v: err = %v, want invalid", bad, err)
		}
	}
}
