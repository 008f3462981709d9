package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/commerce/stripepay/stripemock"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/vault"
	"github.com/hashcart/hashcart/xsim"
)

// addToCart is a signed reply "#AddToCart ..." from a shopper, with its own
// tweet id (replyTo uses one id per shopper).
func addToCart(post, tweetID string, user int, text string) map[string]any {
	return xsim.TweetCreate(testMerchant, xsim.Tweet{
		ID: tweetID, Text: text, UserID: fmt.Sprint(900 + user), ScreenName: fmt.Sprintf("shopper%d", user),
		InReplyToStatusID: post, InReplyToUserID: testMerchant, InReplyToScreenName: "acme",
	})
}

// Two #AddToCart replies, the cart's link, one change of quantity, check
// out, pay 4242 once: one paid order with both lines, both offers' stock
// sold, one confirmation DM, and the merchant receives one order with two
// lines. On SQLite, and on PostgreSQL when HASHCART_TEST_POSTGRES_DSN is
// set.
func TestWholeCartIsCheckedOutAndPaidOnce(t *testing.T) {
	for _, drv := range storagetest.Drivers() {
		t.Run(drv, func(t *testing.T) { wholeCartIsCheckedOutAndPaidOnce(t, drv) })
	}
}

func wholeCartIsCheckedOutAndPaidOnce(t *testing.T, driver string) {
	var mu sync.Mutex
	var deliveries []commerce.HandoffOrder
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var o commerce.HandoffOrder
		if err := json.Unmarshal(b, &o); err != nil {
			t.Errorf("hand-off body %s: %v", b, err)
		}
		mu.Lock()
		deliveries = append(deliveries, o)
		mu.Unlock()
	}))
	defer merchant.Close()
	t.Setenv("E2E_ORDER_WEBHOOK", merchant.URL)
	s := startShop(t, driver, "outbox: { poll_interval: 50ms }\njobs: { handoff: \"@every 1s\" }")
	ctx := context.Background()

	link, review := fillTwoLineCart(t, s)
	if dms := s.sim.DMs(); !strings.Contains(dms[1].Text, "1 × Signed vinyl (red)") || !strings.Contains(dms[1].Text, "Numbered print") {
		t.Fatalf("cart DM %q", dms[1].Text)
	}

	if review.status != 200 || !strings.Contains(review.body, "Signed vinyl (red)") || !strings.Contains(review.body, "Numbered print") ||
		!strings.Contains(review.body, "Check out · $65.00") {
		t.Fatalf("cart page %d:\n%s", review.status, review.body)
	}
	if review.header.Get("Referrer-Policy") != "no-referrer" || review.header.Get("Cache-Control") != "no-store" || !strings.Contains(review.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("cart page headers %v", review.header)
	}
	csrf := csrfOf(t, review)
	if p := postForm(t, link+"/cart", url.Values{"csrf": {"forged"}}); p.status != 403 {
		t.Fatalf("forged CSRF on check out: %d", p.status)
	}
	if p := postForm(t, link+"/line", url.Values{"csrf": {csrf}, "offer": {"signed-vinyl"}, "variant": {"red"}, "quantity": {"3"}}); p.status != 422 || !strings.Contains(p.body, "limited to 2") {
		t.Fatalf("3 vinyls: %d\n%s", p.status, p.body)
	}
	if p := postForm(t, link+"/line", url.Values{"csrf": {csrf}, "offer": {"signed-vinyl"}, "variant": {"red"}, "quantity": {"2"}}); p.status != 303 {
		t.Fatalf("2 vinyls: %d\n%s", p.status, p.body)
	}
	if p := get(t, link); !strings.Contains(p.body, "Check out · $90.00") {
		t.Fatalf("cart after the change:\n%s", p.body)
	}
	left := func(o *commerce.Offer, key string) int {
		t.Helper()
		m, err := s.db.Shop().Remaining(ctx, o)
		if err != nil || m[key] == nil {
			t.Fatalf("remaining %s: %v %v", o.ID, m, err)
		}
		return *m[key]
	}
	vinyl := &commerce.Offer{MerchantID: "acme", ID: "signed-vinyl"}
	print := &commerce.Offer{MerchantID: "acme", ID: "ten"}
	if r, p := left(vinyl, "red"), left(print, ""); r != 40 || p != 10 {
		t.Fatalf("before check out: red %d print %d left, want 40 and 10 (a cart holds nothing)", r, p)
	}

	out := postForm(t, link+"/cart", url.Values{"csrf": {csrf}})
	if out.status != 303 {
		t.Fatalf("check out: %d\n%s", out.status, out.body)
	}
	if r, p := left(vinyl, "red"), left(print, ""); r != 38 || p != 9 {
		t.Fatalf("after check out: red %d print %d left, want 38 and 9 (held)", r, p)
	}
	if _, page := scrape(t, s.base, ""); metric(t, page, `hashcart_holds_total{merchant="acme",offer="signed-vinyl"}`) != 1 ||
		metric(t, page, `hashcart_holds_total{merchant="acme",offer="ten"}`) != 1 {
		t.Errorf("the check out's holds are not counted once each in /metrics")
	}
	form := get(t, link)
	if form.status != 200 || !strings.Contains(form.body, "2 × Signed vinyl (red)") || !strings.Contains(form.body, "1 × Numbered print") ||
		!strings.Contains(form.body, "Continue to payment · $90.00") || !strings.Contains(form.body, `autocomplete="shipping postal-code"`) {
		t.Fatalf("details page %d:\n%s", form.status, form.body)
	}
	// The print ships to the US only: the form offers what both ship to.
	if !strings.Contains(form.body, `<option value="US" selected>United States</option>`) || strings.Contains(form.body, `value="CA"`) {
		t.Errorf("country list: want only the US")
	}
	bad := shipping(csrfOf(t, form))
	bad.Set("country", "GB")
	if p := postForm(t, link, bad); p.status != 422 || !strings.Contains(p.body, "Numbered print does not ship there") {
		t.Fatalf("shipping to GB: %d\n%s", p.status, p.body)
	}
	toPay := postForm(t, link, shipping(csrfOf(t, form)))
	if toPay.status != 303 || !strings.Contains(toPay.location, "/pay/sandbox/") {
		t.Fatalf("submit: %d to %q\n%s", toPay.status, toPay.location, toPay.body)
	}
	if p := get(t, toPay.location); !strings.Contains(p.body, "$90.00") {
		t.Fatalf("payment page does not ask for the cart's total:\n%s", p.body)
	}
	paid := postForm(t, toPay.location, url.Values{"cc-name": {"Ada Lovelace"}, "cc-number": {"4242 4242 4242 4242"}, "cc-exp": {"12 / 30"}, "cc-csc": {"123"}})
	if paid.status != 303 || !strings.HasSuffix(paid.location, "/done") {
		t.Fatalf("pay: %d to %q\n%s", paid.status, paid.location, paid.body)
	}
	if done := get(t, paid.location); done.status != 200 || !strings.Contains(done.body, "HC-000001 is confirmed") || !strings.Contains(done.body, "Numbered print") {
		t.Fatalf("confirmation page %d:\n%s", done.status, done.body)
	}

	dms := wait(t, "the confirmation DM", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 3) })
	if c := dms[2].Text; !strings.Contains(c, "HC-000001 is confirmed") || !strings.Contains(c, "2 × Signed vinyl (red)") || !strings.Contains(c, "Numbered print") || !strings.Contains(c, "$90.00") {
		t.Fatalf("confirmation DM %q", c)
	}
	o, err := s.db.Orders().OrderForHold(ctx, 1)
	if err != nil || o.Status != commerce.OrderPaid || len(o.Lines) != 2 || o.Total.Amount != 9000 || o.Method == nil || o.Method.Last4 != "4242" {
		t.Fatalf("order = %+v, %v", o, err)
	}
	for id := int64(1); id <= 2; id++ {
		if h, _ := s.db.Shop().Hold(ctx, id); h.Status != commerce.HoldConverted {
			t.Fatalf("hold %d is %s, want converted", id, h.Status)
		}
	}
	if r, p := left(vinyl, "red"), left(print, ""); r != 38 || p != 9 {
		t.Fatalf("after payment: red %d print %d left, want 38 and 9 (sold)", r, p)
	}
	if again := get(t, link); !strings.Contains(again.body, "is confirmed") {
		t.Fatalf("cart link after payment:\n%s", again.body)
	}
	// The merchant's export and the buyer's history show one order, two lines.
	cmd := exec.Command(binary, "orders", "export", "--config", s.config, "--merchant", "acme", "--format", "csv")
	cmd.Env = append(os.Environ(), vault.EnvVar+"="+testDataKey)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "HC-000001,paid,") ||
		!strings.Contains(string(out), "2 × Signed vinyl (red); 1 × Numbered print,90.00,USD") || strings.Count(string(out), "HC-") != 1 {
		t.Fatalf("export (%v):\n%s", err, out)
	}
	s.deliver(t, dmFrom(1, "8201", "orders"))
	if h := get(t, s.linkFor(t, 4)); !strings.Contains(h.body, "HC-000001") || !strings.Contains(h.body, "2 × Signed vinyl (red)") || !strings.Contains(h.body, "1 × Numbered print") {
		t.Fatalf("history:\n%s", h.body)
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(deliveries)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // later ticks and the outbox: nothing more
	s.settle(t)
	if n := len(s.sim.DMs()); n != 4 {
		t.Fatalf("%d DMs, want 4 (two cart DMs, one confirmation, the history link)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(deliveries) != 1 || deliveries[0].ID != "HC-000001" || len(deliveries[0].Items) != 2 || deliveries[0].Total.Amount != 9000 ||
		deliveries[0].Items[0].Quantity != 2 || deliveries[0].Items[1].OfferID != "ten" {
		t.Fatalf("merchant got %+v, want one order with two lines", deliveries)
	}
}

// fillTwoLineCart puts a red vinyl and a numbered print in shopper 1's cart
// and returns the cart's link and its review page.
func fillTwoLineCart(t *testing.T, s *shop) (string, page) {
	t.Helper()
	s.deliver(t, addToCart("1001", "7001", 1, "#AddToCart red"))
	s.linkFor(t, 1)
	s.deliver(t, addToCart("1006", "7002", 1, "#AddToCart"))
	link := s.linkFor(t, 2)
	return link, get(t, link)
}

// A line that can't be held at checkout is named, nothing is held, and the
// buyer can go on without it.
func TestCartCheckoutNamesTheLineItCannotHoldAndGoesOnWithoutIt(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "")
	ctx := context.Background()
	link, review := fillTwoLineCart(t, s)
	// Meanwhile the shopper holds the print (limited to 1) by #BuyNow.
	s.deliver(t, addToCart("1006", "7003", 1, "#BuyNow"))
	s.linkFor(t, 3)
	csrf := csrfOf(t, review)
	refused := postForm(t, link+"/cart", url.Values{"csrf": {csrf}})
	if refused.status != 409 || !strings.Contains(refused.body, "Numbered print is limited to 1 per customer") || !strings.Contains(refused.body, "Check out without them · $25.00") {
		t.Fatalf("check out with a line over the limit: %d\n%s", refused.status, refused.body)
	}
	if h, err := s.db.Shop().Hold(ctx, 2); err == nil {
		t.Fatalf("a hold was made although a line failed: %+v", h)
	}
	rest := postForm(t, link+"/cart", url.Values{"csrf": {csrf}, "skip": {"ten|"}})
	if rest.status != 303 {
		t.Fatalf("check out the rest: %d\n%s", rest.status, rest.body)
	}
	form := get(t, link)
	if !strings.Contains(form.body, "1 × Signed vinyl (red)") || strings.Contains(form.body, "Numbered print") || !strings.Contains(form.body, "Continue to payment · $25.00") {
		t.Fatalf("details page:\n%s", form.body)
	}
	payOnThePage(t, link)
	o, err := s.db.Orders().OrderForHold(ctx, 2)
	if err != nil || o.Status != commerce.OrderPaid || len(o.Lines) != 1 || o.Lines[0].OfferID != "signed-vinyl" {
		t.Fatalf("order = %+v, %v", o, err)
	}
	// The #BuyNow hold on the print is untouched and still its own.
	if h, _ := s.db.Shop().Hold(ctx, 1); h.Status != commerce.HoldActive || h.CartID != 0 {
		t.Fatalf("#BuyNow hold = %+v", h)
	}
}

// The cart's one payment through Stripe (stripe-mock): one Checkout
// Session for the total; its completion sells every line.
func TestWholeCartPaidThroughStripe(t *testing.T) {
	mock := stripemock.Start(t)
	s := startShop(t, storage.DriverSQLite, fmt.Sprintf("outbox: { poll_interval: 50ms }\npayments: { provider: stripe, stripe: { api_key: sk_test_e2e, api_base_url: %q, webhook_secret: whsec_e2e } }", mock))
	ctx := context.Background()
	link, review := fillTwoLineCart(t, s)
	if p := postForm(t, link+"/cart", url.Values{"csrf": {csrfOf(t, review)}}); p.status != 303 {
		t.Fatalf("check out: %d\n%s", p.status, p.body)
	}
	next := postForm(t, link, shipping(csrfOf(t, get(t, link))))
	if next.status != 303 || next.location == "" || strings.HasPrefix(next.location, s.base) {
		t.Fatalf("submit: %d to %q, want the Checkout Session\n%s", next.status, next.location, next.body)
	}
	o, err := s.db.Orders().OrderForHold(ctx, 1)
	if err != nil || o.Status != commerce.OrderPending || o.Provider != "stripe" || o.Total.Amount != 6500 || len(o.Lines) != 2 {
		t.Fatalf("order before payment = %+v, %v", o, err)
	}
	if code := postStripe(t, s.base+"/webhooks/stripe", stripeEvent("evt_cart_paid", "checkout.session.completed", o.ID, o.Reference()), time.Now()); code != 200 {
		t.Fatalf("completed event: %d", code)
	}
	dms := wait(t, "the confirmation DM", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 3) })
	if c := dms[2].Text; !strings.Contains(c, "HC-000001 is confirmed") || !strings.Contains(c, "Numbered print") || !strings.Contains(c, "$65.00") {
		t.Fatalf("confirmation DM %q", c)
	}
	for id := int64(1); id <= 2; id++ {
		if h, _ := s.db.Shop().Hold(ctx, id); h.Status != commerce.HoldConverted {
			t.Fatalf("hold %d is %s, want converted", id, h.Status)
		}
	}
}
