package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/commerce/stripepay/stripemock"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/xsim"
)

// flakyStripe is Stripe as the binary sees it: stripe-mock behind a proxy
// that fails the first failures PaymentIntent creations with a 500, then
// answers succeeded (stripe-mock's fixture never succeeds), and records
// what reached it.
type flakyStripe struct {
	mu        sync.Mutex
	failures  int
	intents   []string // Idempotency-Key of every PaymentIntent creation
	deletes   []string // paths of Customer deletions
	checkouts []url.Values
}

func startFlakyStripe(t *testing.T, failures int) (*flakyStripe, string) {
	mock, err := url.Parse(stripemock.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	f := &flakyStripe{failures: failures}
	proxy := httputil.NewSingleHostReverseProxy(mock)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents":
			f.intents = append(f.intents, r.Header.Get("Idempotency-Key"))
			fail := len(f.intents) <= f.failures
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if fail {
				w.WriteHeader(500)
				w.Write([]byte(`{"error":{"type":"api_error","message":"An unknown error occurred"}}`))
				return
			}
			w.Write([]byte(`{"id":"pi_onetap","object":"payment_intent","status":"succeeded"}`))
			return
		case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/v1/customers/"):
			f.deletes = append(f.deletes, r.URL.Path)
		case r.Method == http.MethodPost && r.URL.Path == "/v1/checkout/sessions":
			body, _ := httputil.DumpRequest(r, true)
			if i := strings.Index(string(body), "\r\n\r\n"); i >= 0 {
				v, _ := url.ParseQuery(string(body[i+4:]))
				f.checkouts = append(f.checkouts, v)
			}
		}
		f.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *flakyStripe) snapshot() (intents, deletes []string, checkouts []url.Values) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.intents...), append([]string(nil), f.deletes...), append([]url.Values(nil), f.checkouts...)
}

func stripeShop(t *testing.T, driver, api string) *shop {
	return startShop(t, driver, fmt.Sprintf("outbox: { poll_interval: 50ms }\npayments: { provider: stripe, stripe: { api_key: sk_test_e2e, api_base_url: %q, webhook_secret: whsec_e2e } }", api))
}

// A returning Stripe buyer answers YES while Stripe fails three times: the
// charge is retried outside the event's transaction with one idempotency
// key, the order is paid once and one confirmation DM goes out; then
// forget erases the buyer at once and deletes the Stripe Customer through
// its task.
func TestYESWithStripeFailingIsRetriedAndPaidOnce(t *testing.T) {
	fake, api := startFlakyStripe(t, 3)
	s := stripeShop(t, storage.DriverSQLite, api)
	ctx := context.Background()
	saved := commerce.SavedDetails{
		Shipping: commerce.Address{Name: "Ada Lovelace", Line1: "221 Kent Avenue", City: "Brooklyn", Region: "NY", PostalCode: "11249", Country: "US"},
		Contact:  commerce.Contact{Email: "ada@example.com"},
		Method:   &commerce.SavedMethod{Provider: "stripe", CustomerRef: "cus_returning", MethodRef: "pm_card_visa", Brand: "Visa", Last4: "4242"},
	}
	if err := s.db.Orders().SaveDetails(ctx, "901", saved, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Customers("stripe").SetCustomerRef(ctx, "901", "cus_returning"); err != nil {
		t.Fatal(err)
	}
	s.deliver(t, replyTo("1001", 1, "#BuyNow black"))
	dms := wait(t, "the one-tap offer", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 1) })
	if !strings.Contains(dms[0].Text, "with Visa ending 4242") {
		t.Fatalf("one-tap offer = %q", dms[0].Text)
	}
	s.deliver(t, dmFrom(1, "8401", "YES"))
	dms = wait(t, "the confirmation", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 2) })
	if !strings.Contains(dms[1].Text, "HC-000001 is confirmed") {
		t.Fatalf("after YES: %q", dms[1].Text)
	}
	time.Sleep(time.Second) // a second confirmation would be out by now
	if n := len(s.sim.DMs()); n != 2 {
		t.Fatalf("%d DMs, want the offer and one confirmation: %+v", n, s.sim.DMs())
	}
	o, err := s.db.Orders().OrderForHold(ctx, 1)
	if err != nil || o.Status != commerce.OrderPaid || o.PaymentRef != "pi_onetap" {
		t.Fatalf("order = %+v, %v; want paid by pi_onetap", o, err)
	}
	intents, _, _ := fake.snapshot()
	if len(intents) < 4 {
		t.Fatalf("%d PaymentIntent requests, want 3 failures then the success", len(intents))
	}
	for _, k := range intents {
		if k != "charge:HC-000001" {
			t.Fatalf("idempotency keys %v, want charge:HC-000001 on every attempt", intents)
		}
	}
	t.Logf("paid after %d PaymentIntent requests, all with key %s", len(intents), intents[0])

	s.deliver(t, dmFrom(1, "8402", "forget"))
	wait(t, "the forget question", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 3) })
	s.deliver(t, dmFrom(1, "8403", "YES"))
	dms = wait(t, "the forget answer", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 4) })
	if !strings.Contains(dms[3].Text, "erased") {
		t.Fatalf("forget answered %q", dms[3].Text)
	}
	if _, err := s.db.Orders().SavedDetails(ctx, "901"); err == nil {
		t.Fatal("saved details still there after forget")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, deletes, _ := fake.snapshot()
		ref, _ := s.db.Customers("stripe").CustomerRef(ctx, "901")
		if len(deletes) == 1 && deletes[0] == "/v1/customers/cus_returning" && ref == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after forget: deletes %v, customer ref %q; want cus_returning deleted and unlinked", deletes, ref)
		}
	}
}

// Stripe refuses a Checkout Session shorter than 30 minutes, so starting
// one extends the 15-minute hold to the session's end: the session's
// expires_at is the hold's new end, and the stock stays reserved while the
// buyer is on Stripe's page.
func TestStripeSessionEndsWithTheExtendedHold(t *testing.T) {
	fake, api := startFlakyStripe(t, 0)
	s := stripeShop(t, storage.DriverSQLite, api)
	ctx := context.Background()
	s.deliver(t, replyTo("1001", 1, "#BuyNow red"))
	link := s.linkFor(t, 1)
	before, err := s.db.Shop().Hold(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(before.ExpiresAt); d > 16*time.Minute {
		t.Fatalf("hold before checkout ends in %s, want the 15-minute default", d)
	}
	form := get(t, link)
	if !strings.Contains(form.body, "Once you continue to payment it stays held for 32 min while you pay.") {
		t.Fatalf("the page does not say the hold lasts while paying on Stripe:\n%s", form.body)
	}
	start := time.Now()
	next := postForm(t, link, shipping(csrfOf(t, form)))
	if next.status != 303 || strings.HasPrefix(next.location, s.base) {
		t.Fatalf("submit: %d to %q, want a redirect to the Checkout Session", next.status, next.location)
	}
	after, err := s.db.Shop().Hold(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, _, sessions := fake.snapshot()
	if len(sessions) != 1 {
		t.Fatalf("%d Checkout Sessions, want 1", len(sessions))
	}
	if got, want := sessions[0].Get("expires_at"), fmt.Sprint(after.ExpiresAt.Unix()); got != want {
		t.Fatalf("session expires_at %s, hold ends %s (%s): the session must not outlive the hold", got, want, after.ExpiresAt)
	}
	if d := after.ExpiresAt.Sub(start); d < 31*time.Minute || d > 33*time.Minute {
		t.Fatalf("hold extended to %s after submit, want about 32 minutes", d)
	}
	if page := get(t, link); page.status != 200 {
		t.Fatalf("the checkout page (Stripe's cancel_url) after the extension: %d", page.status)
	}
}

// The sandbox accepts any session expiry: its session ends with the hold,
// which is not extended.
func TestSandboxCheckoutLeavesTheHoldAsItWas(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "outbox: { poll_interval: 50ms }")
	ctx := context.Background()
	s.deliver(t, replyTo("1001", 1, "#BuyNow red"))
	link := s.linkFor(t, 1)
	before, _ := s.db.Shop().Hold(ctx, 1)
	form := get(t, link)
	if strings.Contains(form.body, "while you pay") {
		t.Fatal("the sandbox page promises a longer hold")
	}
	if next := postForm(t, link, shipping(csrfOf(t, form))); next.status != 303 {
		t.Fatalf("submit: %d", next.status)
	}
	after, _ := s.db.Shop().Hold(ctx, 1)
	if !after.ExpiresAt.Equal(before.ExpiresAt) {
		t.Fatalf("sandbox checkout moved the hold from %s to %s", before.ExpiresAt, after.ExpiresAt)
	}
}
