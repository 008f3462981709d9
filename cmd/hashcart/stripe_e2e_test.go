package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/commerce/stripepay/stripemock"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/xsim"
)

func stripeEvent(id, typ string, orderID int64, ref string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"api_version":"2025-01-01","created":%d,"data":{"object":{"id":"cs_test_1","object":"checkout.session","client_reference_id":%q,"metadata":{"order_id":"%d"},"payment_status":"paid","status":"complete","payment_intent":"pi_test_1"}}}`,
		id, typ, time.Now().Unix(), ref, orderID))
}

func postStripe(t *testing.T, url string, body []byte, at time.Time) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", commerce.SignDelivery("whsec_e2e", at, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The Stripe path against stripe-mock: the checkout redirects to a Checkout
// Session; a signed checkout.session.completed delivered 5 times marks the
// order paid once; a signature older than 300 s is refused.
func TestStripeCheckoutAgainstStripeMock(t *testing.T) {
	mock := stripemock.Start(t)
	s := startShop(t, storage.DriverSQLite, fmt.Sprintf("outbox: { poll_interval: 50ms }\npayments: { provider: stripe, stripe: { api_key: sk_test_e2e, api_base_url: %q, webhook_secret: whsec_e2e } }", mock))
	s.deliver(t, replyTo("1001", 1, "#BuyNow red x2"))
	link := s.linkFor(t, 1)
	form := get(t, link)
	if !strings.Contains(form.body, "Acme Records gets it with your order, to reach you about delivery; your receipt is emailed to it.") {
		t.Errorf("with Stripe the email field does not say the receipt goes to it:\n%s", form.body)
	}
	next := postForm(t, link, shipping(csrfOf(t, form)))
	if next.status != 303 || next.location == "" || strings.HasPrefix(next.location, s.base) {
		t.Fatalf("submit: %d to %q, want a redirect to the Checkout Session", next.status, next.location)
	}
	o, err := s.db.Orders().OrderForHold(context.Background(), 1)
	if err != nil || o.Status != commerce.OrderPending || o.Provider != "stripe" || o.Total.Amount != 5000 {
		t.Fatalf("order before payment = %+v, %v", o, err)
	}
	hook := s.base + "/webhooks/stripe"
	if code := postStripe(t, hook, stripeEvent("evt_old", "checkout.session.completed", o.ID, o.Reference()), time.Now().Add(-301*time.Second)); code != 400 {
		t.Fatalf("signature 301 s old: %d, want 400", code)
	}
	if o, _ := s.db.Orders().OrderForHold(context.Background(), 1); o.Status != commerce.OrderPending {
		t.Fatalf("an old signature changed the order to %s", o.Status)
	}
	body := stripeEvent("evt_paid_1", "checkout.session.completed", o.ID, o.Reference())
	for i := 0; i < 5; i++ {
		if code := postStripe(t, hook, body, time.Now()); code != 200 {
			t.Fatalf("delivery %d: %d", i+1, code)
		}
	}
	o, _ = s.db.Orders().OrderForHold(context.Background(), 1)
	if o.Status != commerce.OrderPaid || o.PaymentRef != "pi_test_1" {
		t.Fatalf("order after payment = %+v", o)
	}
	dms := wait(t, "the confirmation", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 2) })
	time.Sleep(500 * time.Millisecond)
	confirmations := 0
	for _, dm := range s.sim.DMs() {
		if strings.Contains(dm.Text, "is confirmed") {
			confirmations++
		}
	}
	if confirmations != 1 || !strings.Contains(dms[1].Text, "HC-000001 is confirmed") {
		t.Fatalf("%d confirmations for 5 deliveries, want 1", confirmations)
	}

	// forget by DM also forgets the buyer's Stripe Customer.
	if ref, _ := s.db.Customers("stripe").CustomerRef(context.Background(), "901"); ref == "" {
		t.Fatal("the checkout made no Stripe Customer for the buyer")
	}
	n := len(s.sim.DMs())
	s.deliver(t, dmFrom(1, "8301", "forget"))
	wait(t, "the forget question", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, n+1) })
	s.deliver(t, dmFrom(1, "8302", "YES"))
	dms = wait(t, "the forget answer", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, n+2) })
	if !strings.Contains(dms[n+1].Text, "erased") {
		t.Fatalf("forget answered %q", dms[n+1].Text)
	}
	// The Customer is deleted by a provider task after the DM's commit.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ref, _ := s.db.Customers("stripe").CustomerRef(context.Background(), "901")
		if ref == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stripe customer %q still linked 10 s after forget", ref)
		}
	}
}
