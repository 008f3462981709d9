package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/vault"
	"github.com/hashcart/hashcart/xsim"
)

// browser is a tiny no-redirect HTTP client that behaves like a form post
// from the page itself.
var browser = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type page struct {
	status   int
	body     string
	location string
	header   http.Header
}

func get(t *testing.T, u string) page {
	t.Helper()
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(b), resp.Header.Get("Location"), resp.Header}
}

func postForm(t *testing.T, u string, form url.Values) page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(b), resp.Header.Get("Location"), resp.Header}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%s", p.body)
	}
	return m[1]
}

func shipping(csrf string) url.Values {
	return url.Values{"csrf": {csrf}, "name": {"Ada Lovelace"}, "email": {"ada@example.com"}, "line1": {"221 Kent Avenue"},
		"city": {"Brooklyn"}, "region": {"NY"}, "postal_code": {"11249"}, "country": {"US"}, "save": {"1"}}
}

func (s *shop) linkFor(t *testing.T, n int) string {
	t.Helper()
	dms := wait(t, "a DM", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, n) })
	link := linkRE.FindString(dms[n-1].Text)
	if link == "" {
		t.Fatalf("DM %q has no link", dms[n-1].Text)
	}
	return link
}

// From the DM link to a paid order with the sandbox card: a declined card
// first (clear message, hold still held), then 4242.
func TestCheckoutWithTheSandboxCard(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "")
	s.deliver(t, replyTo("1001", 1, "#BuyNow red x2"))
	link := s.linkFor(t, 1)
	fields := 0

	form := get(t, link)
	if form.status != 200 || !strings.Contains(form.body, "2 × Signed vinyl (red)") || !strings.Contains(form.body, "$50.00") {
		t.Fatalf("checkout page %d:\n%s", form.status, form.body)
	}
	for _, tok := range []string{`autocomplete="name"`, `autocomplete="email"`, `autocomplete="shipping address-line1"`, `autocomplete="shipping address-line2"`,
		`autocomplete="shipping address-level2"`, `autocomplete="shipping address-level1"`, `autocomplete="shipping postal-code"`, `autocomplete="shipping country"`} {
		if !strings.Contains(form.body, tok) {
			t.Errorf("checkout form lacks %s", tok)
		}
	}
	if !strings.Contains(form.body, `<option value="US" selected>United States</option>`) || strings.Contains(form.body, `value="FR"`) {
		t.Errorf("country list: want the offer's ship_to by name, US chosen")
	}
	if len(form.body) > 50*1024 {
		t.Errorf("checkout page is %d bytes, want under 50 KB", len(form.body))
	}
	// The buyer is told who gets the email; the sandbox emails no receipt.
	if !strings.Contains(form.body, "Acme Records gets it with your order, to reach you about delivery.") || strings.Contains(form.body, "receipt") {
		t.Errorf("the email field does not say what the email is for:\n%s", form.body)
	}
	if form.header.Get("Referrer-Policy") != "no-referrer" || form.header.Get("Cache-Control") != "no-store" || !strings.Contains(form.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("checkout headers %v", form.header)
	}
	csrf := csrfOf(t, form)

	if p := postForm(t, link, url.Values{"csrf": {"forged"}, "name": {"x"}}); p.status != 403 {
		t.Fatalf("forged CSRF: %d", p.status)
	}
	bad := shipping(csrf)
	bad.Set("country", "FR")
	if p := postForm(t, link, bad); p.status != 422 || !strings.Contains(p.body, "does not ship there") ||
		!strings.Contains(p.body, `required aria-invalid="true" aria-describedby="country-err">`) || !strings.Contains(p.body, `id="country-err"`) {
		t.Fatalf("shipping to FR: %d, want the country marked invalid and its error tied to it\n%s", p.status, p.body)
	}
	noEmail := shipping(csrf)
	noEmail.Set("email", "ada at example")
	if p := postForm(t, link, noEmail); p.status != 422 || !strings.Contains(p.body, `aria-invalid="true" aria-describedby="email-err email-use"`) ||
		!strings.Contains(p.body, `id="name" name="name" autocomplete="name" value="Ada Lovelace" required>`) {
		t.Fatalf("a bad email: %d, want only the email marked invalid\n%s", p.status, p.body)
	}
	toPay := postForm(t, link, shipping(csrf))
	fields += 7
	if toPay.status != 303 || !strings.Contains(toPay.location, "/pay/sandbox/") {
		t.Fatalf("submit: %d to %q\n%s", toPay.status, toPay.location, toPay.body)
	}
	payPage := get(t, toPay.location)
	for _, tok := range []string{`autocomplete="cc-name"`, `autocomplete="cc-number"`, `autocomplete="cc-exp"`, `autocomplete="cc-csc"`} {
		if !strings.Contains(payPage.body, tok) {
			t.Errorf("payment page lacks %s", tok)
		}
	}
	card := func(number string) url.Values {
		return url.Values{"cc-name": {"Ada Lovelace"}, "cc-number": {number}, "cc-exp": {"12 / 30"}, "cc-csc": {"123"}}
	}
	declined := postForm(t, toPay.location, card("4000 0000 0000 0002"))
	if declined.status != 402 || !strings.Contains(declined.body, "declined") {
		t.Fatalf("declined card: %d\n%s", declined.status, declined.body)
	}
	if h, _ := s.db.Shop().Hold(context.Background(), 1); h.Status != commerce.HoldActive {
		t.Fatalf("hold after a declined card = %s, want active", h.Status)
	}
	paid := postForm(t, toPay.location, card("4242 4242 4242 4242"))
	fields += 4
	if paid.status != 303 || !strings.HasSuffix(paid.location, "/done") {
		t.Fatalf("good card: %d to %q\n%s", paid.status, paid.location, paid.body)
	}
	done := get(t, paid.location)
	if done.status != 200 || !strings.Contains(done.body, "is confirmed") || !strings.Contains(done.body, "Brooklyn, NY") {
		t.Fatalf("confirmation page %d:\n%s", done.status, done.body)
	}
	t.Logf("first purchase: 3 taps (open link, continue, pay) and %d fields", fields)

	dms := wait(t, "the confirmation DM", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 2) })
	if !strings.Contains(dms[1].Text, "HC-000001 is confirmed") || !strings.Contains(dms[1].Text, "$50.00") || strings.Contains(dms[1].Text, "Kent") {
		t.Fatalf("confirmation DM %q", dms[1].Text)
	}
	o, err := s.db.Orders().OrderForHold(context.Background(), 1)
	if err != nil || o.Status != commerce.OrderPaid || o.Method == nil || o.Method.Last4 != "4242" {
		t.Fatalf("order = %+v, %v", o, err)
	}

	// The link again: the confirmation, and a second submit changes nothing.
	if again := get(t, link); again.status != 200 || !strings.Contains(again.body, "is confirmed") {
		t.Fatalf("reused link %d:\n%s", again.status, again.body)
	}
	if again := postForm(t, link, shipping(csrf)); again.status != 200 || !strings.Contains(again.body, "is confirmed") {
		t.Fatalf("reused form %d:\n%s", again.status, again.body)
	}

	// Nothing of the card, and no plaintext address, in any table.
	all := storagetest.AllText(t, s.driver, s.dsn)
	for _, secret := range []string{"4242424242424242", "4242 4242 4242 4242", "Kent Avenue", "ada@example.com", "Ada Lovelace"} {
		if strings.Contains(all, secret) {
			t.Errorf("%q is stored in the clear", secret)
		}
	}

	// History by DM "orders", then remove the saved details.
	s.deliver(t, dmFrom(1, "8101", "orders"))
	history := get(t, s.linkFor(t, 3))
	if history.status != 200 || !strings.Contains(history.body, "HC-000001") || !strings.Contains(history.body, "Visa ending 4242") {
		t.Fatalf("history %d:\n%s", history.status, history.body)
	}
	forgetURL := regexp.MustCompile(`action="(/orders/[^"]+/forget)"`).FindStringSubmatch(history.body)
	if forgetURL == nil {
		t.Fatalf("no forget form:\n%s", history.body)
	}
	gone := postForm(t, s.base+forgetURL[1], url.Values{"csrf": {csrfOf(t, history)}})
	if gone.status != 200 || !strings.Contains(gone.body, "removed") || strings.Contains(gone.body, "Visa ending 4242") {
		t.Fatalf("forget %d:\n%s", gone.status, gone.body)
	}
	if _, err := s.db.Orders().SavedDetails(context.Background(), "901"); err == nil {
		t.Fatal("saved details still there after remove")
	}
	// Another buyer's link shows nothing of this buyer.
	if p := get(t, s.base+"/orders/"+strings.Repeat("A", 43)); p.status != 404 || strings.Contains(p.body, "HC-000001") {
		t.Fatalf("unknown history link: %d", p.status)
	}
}

func TestGiveawayIsClaimedAtTheAddressStep(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "")
	s.deliver(t, replyTo("1004", 1, "#Claim"))
	link := s.linkFor(t, 1)
	form := get(t, link)
	if !strings.Contains(form.body, "Claim it") {
		t.Fatalf("claim page:\n%s", form.body)
	}
	done := postForm(t, link, shipping(csrfOf(t, form)))
	if done.status != 303 || !strings.HasSuffix(done.location, "/done") {
		t.Fatalf("claim: %d to %q", done.status, done.location)
	}
	if p := get(t, done.location); !strings.Contains(p.body, "is confirmed") {
		t.Fatalf("claim confirmation:\n%s", p.body)
	}
	o, _ := s.db.Orders().OrderForHold(context.Background(), 1)
	if o.Status != commerce.OrderPaid || o.Total.Amount != 0 {
		t.Fatalf("claim order = %+v", o)
	}
	s.deliver(t, xsim.TweetCreate(testMerchant, xsim.Tweet{ID: "6001", Text: "#Claim", UserID: "901", ScreenName: "shopper1", InReplyToStatusID: "1004", InReplyToUserID: testMerchant}))
	posts := wait(t, "the limit reply", func(ctx context.Context) ([]xsim.Post, error) { return s.sim.WaitPosts(ctx, 2) })
	if !strings.Contains(posts[1].Text, "limited to 1") {
		t.Fatalf("second claim answered %q", posts[1].Text)
	}
}

func TestExpiredLinkGetsAFriendlyPage(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "outbox: { poll_interval: 50ms }\ncheckout: { hold: 2s }")
	s.deliver(t, replyTo("1001", 1, "#BuyNow black"))
	link := s.linkFor(t, 1)
	form := get(t, link)
	time.Sleep(2500 * time.Millisecond) // the hold's real lifetime in the binary
	p := get(t, link)
	if p.status != 410 || !strings.Contains(p.body, "expired") {
		t.Fatalf("expired link: %d\n%s", p.status, p.body)
	}
	if p := postForm(t, link, shipping(csrfOf(t, form))); p.status != 410 {
		t.Fatalf("submit on an expired link: %d", p.status)
	}
	if _, err := s.db.Orders().OrderForHold(context.Background(), 1); err == nil {
		t.Fatal("an order was placed through an expired link")
	}

}

// payOnThePage runs a first purchase through the pages with the sandbox
// card 4242, saving the details.
func payOnThePage(t *testing.T, link string) {
	t.Helper()
	form := get(t, link)
	toPay := postForm(t, link, shipping(csrfOf(t, form)))
	if toPay.status != 303 {
		t.Fatalf("submit: %d\n%s", toPay.status, toPay.body)
	}
	paid := postForm(t, toPay.location, url.Values{"cc-name": {"Ada Lovelace"}, "cc-number": {"4242424242424242"}, "cc-exp": {"12/30"}, "cc-csc": {"123"}})
	if paid.status != 303 {
		t.Fatalf("pay: %d\n%s", paid.status, paid.body)
	}
}

// A returning buyer replies #BuyNow, then YES by DM: a paid order without
// opening a page.
func TestReturningBuyerBuysWithYESByDM(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "")
	s.deliver(t, replyTo("1001", 1, "#BuyNow red"))
	payOnThePage(t, s.linkFor(t, 1))
	wait(t, "the first confirmation", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 2) })

	s.deliver(t, xsim.TweetCreate(testMerchant, xsim.Tweet{ID: "7777", Text: "#BuyNow black", UserID: "901", ScreenName: "shopper1", InReplyToStatusID: "1001", InReplyToUserID: testMerchant}))
	dms := wait(t, "the one-tap offer", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 3) })
	offer := dms[2].Text
	for _, want := range []string{"1 × Signed vinyl (black) for $25.00 with Visa ending 4242, shipping to Brooklyn, NY?", "Reply YES"} {
		if !strings.Contains(offer, want) {
			t.Fatalf("one-tap DM %q lacks %q", offer, want)
		}
	}

	s.deliver(t, dmFrom(1, "8201", "YES"))
	dms = wait(t, "the second confirmation", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 4) })
	if !strings.Contains(dms[3].Text, "HC-000002 is confirmed") {
		t.Fatalf("after YES: %q", dms[3].Text)
	}
	o, err := s.db.Orders().OrderForHold(context.Background(), 2)
	if err != nil || o.Status != commerce.OrderPaid || o.Shipping.City != "Brooklyn" || o.Lines[0].Variant != "black" {
		t.Fatalf("one-tap order = %+v, %v", o, err)
	}
	// YES again changes nothing.
	s.deliver(t, dmFrom(1, "8202", "yes"))
	dms = wait(t, "the answer to a second yes", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 5) })
	if !strings.Contains(dms[4].Text, "nothing waiting") {
		t.Fatalf("second yes answered %q", dms[4].Text)
	}
	t.Logf("repeat purchase: a reply and a YES by DM, no page and no field")
	if orders, _ := s.db.Orders().BuyerOrders(context.Background(), "901"); len(orders) != 2 {
		t.Fatalf("%d orders, want 2", len(orders))
	}

}

// The buyer changes variant and quantity on the page, within the limits.
func TestCheckoutPageChangesVariantAndQuantity(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "")
	s.deliver(t, replyTo("1001", 1, "#BuyNow red x2"))
	link := s.linkFor(t, 1)
	form := get(t, link)
	if !strings.Contains(form.body, `<select id="quantity" name="quantity"><option>1</option><option selected>2</option></select>`) {
		t.Fatalf("quantity choices (limit 2) missing:\n%s", form.body)
	}
	csrf := csrfOf(t, form)
	vinyl := &commerce.Offer{MerchantID: "acme", ID: "signed-vinyl"}
	changed := postForm(t, link+"/change", url.Values{"csrf": {csrf}, "variant": {"black"}, "quantity": {"1"}})
	if changed.status != 303 {
		t.Fatalf("change: %d\n%s", changed.status, changed.body)
	}
	page := get(t, link)
	if !strings.Contains(page.body, "1 × Signed vinyl (black)") || !strings.Contains(page.body, "$25.00") {
		t.Fatalf("page after the change:\n%s", page.body)
	}
	left, _ := s.db.Shop().Remaining(context.Background(), vinyl)
	if *left["red"] != 40 || *left["black"] != 59 {
		t.Fatalf("stock after the change: red %d black %d, want 40 and 59", *left["red"], *left["black"])
	}
	if p := postForm(t, link+"/change", url.Values{"csrf": {csrf}, "variant": {"black"}, "quantity": {"3"}}); p.status != 422 || !strings.Contains(p.body, "limited to 2") {
		t.Fatalf("3 with a limit of 2: %d", p.status)
	}
	if p := postForm(t, link+"/change", url.Values{"csrf": {"forged"}, "variant": {"red"}, "quantity": {"2"}}); p.status != 403 {
		t.Fatalf("forged change: %d", p.status)
	}
	if h, _ := s.db.Shop().Hold(context.Background(), 1); h.Variant != "black" || h.Quantity != 1 {
		t.Fatalf("hold after refused changes = %s x%d, want black x1", h.Variant, h.Quantity)
	}
	payOnThePage(t, link)
	if o, _ := s.db.Orders().OrderForHold(context.Background(), 1); o.Status != commerce.OrderPaid || o.Total.Amount != 2500 {
		t.Fatalf("order = %+v, want paid $25.00", o)
	}
}

func TestMerchantExportsItsOrders(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "")
	s.deliver(t, replyTo("1001", 1, "#BuyNow red x2"))
	payOnThePage(t, s.linkFor(t, 1))
	export := func(args ...string) (string, int) {
		cmd := exec.Command(binary, append([]string{"orders", "export", "--config", s.config}, args...)...)
		cmd.Env = append(os.Environ(), vault.EnvVar+"="+testDataKey)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := export("--merchant", "acme", "--since", "1h", "--format", "csv")
	if code != 0 || !strings.Contains(out, "HC-000001,paid,") || !strings.Contains(out, "2 × Signed vinyl (red),50.00,USD,Ada Lovelace,221 Kent Avenue,,Brooklyn,NY,11249,US,ada@example.com") {
		t.Fatalf("csv export (%d):\n%s", code, out)
	}
	out, code = export("--merchant", "acme", "--format", "json")
	if code != 0 || !strings.Contains(out, `"id": "HC-000001"`) || !strings.Contains(out, `"city": "Brooklyn"`) {
		t.Fatalf("json export (%d):\n%s", code, out)
	}
	if _, code := export("--merchant", "nobody"); code != 1 {
		t.Fatalf("unknown merchant: exit %d, want 1", code)
	}
}
