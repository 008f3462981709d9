package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hashcart/hashcart"
)

// The offer posts of config.example.yaml the journey uses.
const (
	vinylPost = "1860000000000000001"
	totePost  = "1860000000000000002"
)

// exampleOnSaleNow writes config.example.yaml with the signed vinyl's sale
// window moved around now and returns the file's path. Of the example's
// offers only the tote bag and the vinyl take #AddToCart (the sticker is
// #Claim only), and the vinyl is a timed drop, so a cart of two different
// items needs the drop to be on.
func exampleOnSaleNow(t *testing.T) string {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	cfg := string(hashcart.ExampleConfig)
	for _, r := range [][2]string{
		{"starts_at: 2026-12-01T17:00:00Z", "starts_at: " + now.Add(-time.Hour).Format(time.RFC3339)},
		{"ends_at: 2026-12-02T17:00:00Z", "ends_at: " + now.Add(24*time.Hour).Format(time.RFC3339)},
	} {
		if strings.Count(cfg, r[0]) != 1 {
			t.Fatalf("config.example.yaml no longer has %q once: update the demo journey", r[0])
		}
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitText waits until the element's text contains want (the demo page
// updates itself) and returns that text.
func (b *phoneBuyer) waitText(sel, want string) string {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(function(){var e=document.querySelector(%q);return e?e.innerText:""})()`, sel)))
		if err != nil {
			b.t.Fatalf("read %s: %v", sel, err)
		}
		if got = v; strings.Contains(got, want) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s never showed %q; it shows:\n%s", sel, want, got)
	return ""
}

// count is how many elements match sel.
func (b *phoneBuyer) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		b.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// effort is what the buyer has done since the last reset.
func (b *phoneBuyer) effort() (taps, fields int) { return b.taps, b.fields }

func (b *phoneBuyer) resetEffort() { b.taps, b.fields = 0, 0 }

// screenshot writes the visible page to docs/name at desktop size when
// HASHCART_UPDATE_SCREENSHOTS=1, then goes back to the phone's size.
func (b *phoneBuyer) screenshot(name string, width, height int64) {
	b.t.Helper()
	if os.Getenv("HASHCART_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	err := chromedp.Do(b.ctx,
		chromedp.EmulateViewport(width, height, chromedp.EmulateScale(1)),
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.scrollTo(0,0)`),
		chromedp.Sleep(300*time.Millisecond),
	)
	if err != nil {
		b.t.Fatalf("resize for the screenshot: %v", err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	out := filepath.Join("..", "..", "docs", name)
	if err := os.WriteFile(out, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s (%d bytes)", out, len(png))
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(390, 844,
		chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))); err != nil {
		b.t.Fatalf("back to phone size: %v", err)
	}
}

// lastInboxLink is the last link the merchant sent by DM that contains
// part, as a selector to tap.
func (b *phoneBuyer) lastInboxLink(part string) chromedp.CSS {
	b.t.Helper()
	href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`(function(){var a=[].filter.call(document.querySelectorAll("#inbox a"),function(e){return e.href.indexOf(%q)>=0});return a.length?a[a.length-1].getAttribute("href"):""})()`, part)))
	if err != nil || href == "" {
		b.t.Fatalf("no %s link in the inbox (%v)", part, err)
	}
	return chromedp.CSS(fmt.Sprintf(`#inbox a[href=%q]`, href))
}

// The journey, in a browser at phone size, from the one URL
// `hashcart demo` prints: pick a handle; reply #BuyNow to an offer post;
// the bot's public reply appears under it and the checkout link in the
// inbox; a declined card, then 4242; the confirmation DM and the order at
// the merchant. Then the cart tag path to the end: #AddToCart on two posts,
// the cart DM's link, "Check out", the details (saved ones prefilled), 4242,
// and one confirmation DM and one order with both lines. Then a repeat
// purchase with saved details (#BuyNow, then YES). It prints the taps and
// fields of a first purchase, a cart purchase and a repeat purchase.
// The demo runs the example configuration with the vinyl drop on sale now
// (exampleOnSaleNow).
func TestBrowserDemoJourney(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("headless Chromium not installed on CI: .ci/run should have installed Debian's chromium")
		}
		t.Skip("headless Chromium not installed: apt-get install chromium, or run bash .ci/run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 210*time.Second)
	defer cancel()
	d := startDemo(t, "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--config", exampleOnSaleNow(t))
	b := newPhoneBuyer(t, ctx, chrome)

	if resp := b.open(d.url); resp.Status != 200 {
		t.Fatalf("demo page: status %d", resp.Status)
	}
	b.fill("#handle", "ada")
	b.tap("#start")
	if me := b.text("#me"); me != "@ada" {
		t.Fatalf("after picking a handle the page says I am %q", me)
	}
	post := "#post-" + totePost
	if offer := b.text(chromedp.CSS(post + " .offer")); !strings.Contains(offer, "Acme tote bag") || !strings.Contains(offer, "$18.00") || !strings.Contains(offer, "50 left") {
		t.Fatalf("the tote bag's post shows %q", offer)
	}

	// First purchase: counted from the feed.
	b.resetEffort()
	b.tap(chromedp.CSS(post + ` button[value="#BuyNow"]`))
	b.waitText("#thread-"+totePost, "@ada Got it! Check your DMs")
	b.waitText("#inbox", "1 × Acme tote bag: $18.00. Held for you")
	b.waitText("#offers-"+totePost, "49 left")
	if resp := b.tap(b.lastInboxLink("/checkout/")); resp.Status != 200 {
		t.Fatalf("checkout link: status %d", resp.Status)
	}
	if order := b.text(`section[aria-label="Your order"]`); !strings.Contains(order, "Acme tote bag") || !strings.Contains(order, "$18.00") {
		t.Fatalf("checkout page shows %q", order)
	}
	b.fillShipping()
	// "Remember my details" is ticked already: nothing to tap for the
	// one-tap repeat purchase below.
	if checked, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.querySelector('input[name="save"]').checked`)); err != nil || !checked {
		t.Fatalf("the save box is not ticked (%v)", err)
	}
	if resp := b.tap(`#continue`); resp.Status != 200 || !strings.Contains(resp.URL, "/pay/sandbox/") {
		t.Fatalf("continue: status %d at %s", resp.Status, resp.URL)
	}
	b.fill(`input[autocomplete="cc-name"]`, "Ada Lovelace")
	b.fill(`input[autocomplete="cc-number"]`, "4000 0000 0000 0002")
	b.fill(`input[autocomplete="cc-exp"]`, "12 / 30")
	b.fill(`input[autocomplete="cc-csc"]`, "123")
	if resp := b.tap(`button[type="submit"]`); resp.Status != 402 {
		t.Fatalf("declined card: status %d at %s, want 402", resp.Status, resp.URL)
	}
	firstTaps, firstFields := b.effort()
	if alert := b.text(`[role="alert"]`); !strings.Contains(alert, "declined") {
		t.Fatalf("declined card: the alert says %q", alert)
	}
	b.fill(`input[autocomplete="cc-number"]`, "4242 4242 4242 4242")
	b.fill(`input[autocomplete="cc-csc"]`, "123")
	if resp := b.tap(`button[type="submit"]`); resp.Status != 200 || !strings.HasSuffix(resp.URL, "/done") {
		t.Fatalf("good card: status %d at %s", resp.Status, resp.URL)
	}
	declineTaps, declineFields := b.taps-firstTaps, b.fields-firstFields
	if page := b.text("main"); !strings.Contains(page, "HC-000001 is confirmed") {
		t.Fatalf("confirmation page says:\n%s", page)
	}

	// Back on the demo page: the confirmation DM and the merchant's order.
	b.open(d.url)
	b.waitText("#inbox", "Order HC-000001 is confirmed: 1 × Acme tote bag, $18.00. Shipping to Brooklyn, NY.")
	got := b.waitText("#merchant", "HC-000001")
	for _, want := range []string{"1 × Acme tote bag", "$18.00", "from @ada", "Brooklyn, NY, US", "signature ✓"} {
		if !strings.Contains(got, want) {
			t.Fatalf("the merchant's order shows %q, want %q in it", got, want)
		}
	}
	if n := b.count(`#inbox a[href*="/checkout/"]`); n != 1 {
		t.Fatalf("the inbox has %d checkout links, want 1", n)
	}

	// The cart tag path: two different items by #AddToCart, the cart DM's
	// link, "Check out", the details, one payment. Counted from the feed.
	b.resetEffort()
	b.tap(chromedp.CSS(post + ` button[value="#AddToCart"]`))
	b.waitText("#thread-"+totePost, "@ada Added to your cart! Check your DMs.")
	b.waitText("#inbox", "Added 1 × Acme tote bag. Your cart: 1 × Acme tote bag, $18.00 in all.")
	b.tap(chromedp.CSS("#post-" + vinylPost + ` button[value="#AddToCart red"]`))
	b.waitText("#thread-"+vinylPost, "@ada Added to your cart! Check your DMs.")
	b.waitText("#inbox", "Added 1 × Signed vinyl, first pressing (red). Your cart: ")
	b.waitText("#inbox", "$43.00 in all.")
	if resp := b.tap(b.lastInboxLink("/checkout/")); resp.Status != 200 {
		t.Fatalf("cart link: status %d", resp.Status)
	}
	if cart := b.text(`section[aria-label="Your cart"]`); !strings.Contains(cart, "Acme tote bag") || !strings.Contains(cart, "Signed vinyl, first pressing (red)") || !strings.Contains(cart, "$43.00") {
		t.Fatalf("the cart's page shows:\n%s", cart)
	}
	if resp := b.tap(`#checkout`); resp.Status != 200 {
		t.Fatalf("check out: status %d at %s", resp.Status, resp.URL)
	}
	if order := b.text(`section[aria-label="Your order"]`); !strings.Contains(order, "1 × Acme tote bag") || !strings.Contains(order, "1 × Signed vinyl, first pressing (red)") || !strings.Contains(order, "$43.00") {
		t.Fatalf("the cart's details page shows:\n%s", order)
	}
	// The details saved by the first purchase fill the form.
	for sel, want := range map[string]string{"#name": "Ada Lovelace", "#email": "ada@example.com", "#line1": "221 Kent Avenue", "#city": "Brooklyn", "#region": "NY", "#postal_code": "11249"} {
		if got := b.value(chromedp.CSS(sel)); got != want {
			t.Fatalf("the cart's details form has %s = %q, want the saved %q", sel, got, want)
		}
	}
	b.choose("#country", "US")
	if resp := b.tap(`#continue`); resp.Status != 200 || !strings.Contains(resp.URL, "/pay/sandbox/") {
		t.Fatalf("continue: status %d at %s", resp.Status, resp.URL)
	}
	if amount := b.text(`.amount`); amount != "$43.00" {
		t.Fatalf("the payment page asks for %q, want the cart's $43.00", amount)
	}
	// The sandbox page asks for the card each time; a name it fills in
	// costs the buyer nothing.
	if b.value(`input[autocomplete="cc-name"]`) == "" {
		b.fill(`input[autocomplete="cc-name"]`, "Ada Lovelace")
	}
	b.fill(`input[autocomplete="cc-number"]`, "4242 4242 4242 4242")
	b.fill(`input[autocomplete="cc-exp"]`, "12 / 30")
	b.fill(`input[autocomplete="cc-csc"]`, "123")
	if resp := b.tap(`button[type="submit"]`); resp.Status != 200 || !strings.HasSuffix(resp.URL, "/done") {
		t.Fatalf("paying for the cart: status %d at %s", resp.Status, resp.URL)
	}
	cartTaps, cartFields := b.effort()
	if page := b.text("main"); !strings.Contains(page, "HC-000002 is confirmed") {
		t.Fatalf("the cart's confirmation page says:\n%s", page)
	}
	b.open(d.url)
	b.waitText("#inbox", "Order HC-000002 is confirmed: 1 × Acme tote bag, 1 × Signed vinyl, first pressing (red), $43.00. Shipping to Brooklyn, NY.")
	got = b.waitText("#merchant", "HC-000002")
	cartOrder := ""
	for _, line := range strings.Split(got, "\n") {
		if strings.Contains(line, "HC-000002") {
			cartOrder = line
		}
	}
	for _, want := range []string{"1 × Acme tote bag; 1 × Signed vinyl, first pressing (red)", "$43.00"} {
		if !strings.Contains(cartOrder, want) {
			t.Fatalf("the merchant's cart order shows %q, want %q in it; the pane shows:\n%s", cartOrder, want, got)
		}
	}
	if n := strings.Count(got, "HC-"); n != 2 {
		t.Fatalf("the merchant's pane shows %d orders, want 2 (the cart is one order):\n%s", n, got)
	}
	b.waitText("#offers-"+totePost, "48 left")
	b.waitText("#offers-"+vinylPost, "99 left")
	b.screenshot("feed.png", 1200, 900)

	// A repeat purchase with the saved details: #BuyNow, then YES.
	b.resetEffort()
	b.tap(chromedp.CSS(post + ` button[value="#BuyNow"]`))
	b.waitText("#inbox", "with Visa ending 4242, shipping to Brooklyn, NY? Reply YES")
	b.tap(`#inbox-pane button[value="YES"]`)
	b.waitText("#inbox", "Order HC-000003 is confirmed")
	repeatTaps, repeatFields := b.effort()
	b.waitText("#merchant", "HC-000003")
	b.waitText("#offers-"+totePost, "47 left")

	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("the browser console reported:\n%s", strings.Join(errs, "\n"))
	}
	for _, line := range []string{
		fmt.Sprintf("demo journey: first purchase took %d taps and %d fields from the feed (a declined card cost %d more taps and %d fields)",
			firstTaps, firstFields, declineTaps, declineFields),
		fmt.Sprintf("demo journey: cart purchase of 2 items took %d taps and %d fields from the feed (2 × #AddToCart, the cart link, Check out, saved details, 4242)", cartTaps, cartFields),
		fmt.Sprintf("demo journey: repeat purchase took %d taps and %d fields (#BuyNow, then YES by DM)", repeatTaps, repeatFields),
	} {
		t.Log(line)
		fmt.Println(line)
	}
}
