package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
)

// chromiumPath is the first Chromium or Chrome binary on PATH, or "".
// .ci/run installs Debian's chromium, which is /usr/bin/chromium.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// phoneBuyer drives a headless Chromium the size of a phone and counts
// what its owner had to do: taps (opening the link, pressing a button) and
// fields (typing into an input, changing a select).
type phoneBuyer struct {
	t      *testing.T
	ctx    context.Context
	taps   int
	fields int

	mu       sync.Mutex
	problems []string // console errors other than HTTP statuses: CSP, scripts
}

func newPhoneBuyer(t *testing.T, ctx context.Context, chrome string) *phoneBuyer {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844),
	)
	t.Cleanup(cancelAlloc)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	// An iPhone 12/13-sized viewport: 390x844 CSS pixels, mobile layout, touch.
	if err := chromedp.Do(tabCtx, chromedp.EmulateViewport(390, 844,
		chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))); err != nil {
		t.Fatalf("starting Chromium %s: %v", chrome, err)
	}
	b := &phoneBuyer{t: t, ctx: tabCtx}
	// The console tells what the page's CSP blocked (a style, a form
	// target), which an HTTP-level test cannot see.
	entries := chromedp.Events(tabCtx, cdplog.EntryAdded)
	if _, err := chromedp.Call(tabCtx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("console: %v", err)
	}
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if e := ev.Entry; e.Level == cdplog.EntryLevelError && e.Source != cdplog.EntrySourceNetwork {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s: %s (%s)", e.Source, e.Text, e.URL))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// consoleErrors is what the browser reported as broken so far.
func (b *phoneBuyer) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// open follows a link, as tapping it in the DM would.
func (b *phoneBuyer) open(link string) *network.Response {
	b.t.Helper()
	b.taps++
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(link))
	if err != nil {
		b.t.Fatalf("open %s: %v", link, err)
	}
	return resp
}

// tap presses a button and waits for the page it leads to.
func (b *phoneBuyer) tap(sel chromedp.CSS) *network.Response {
	b.t.Helper()
	b.taps++
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(sel, chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("tap %s: %v", sel, err)
	}
	return resp
}

// fill types text into an empty input.
func (b *phoneBuyer) fill(sel chromedp.CSS, text string) {
	b.t.Helper()
	b.fields++
	if err := chromedp.Do(b.ctx, chromedp.SendKeys(sel, text, chromedp.NodeVisible)); err != nil {
		b.t.Fatalf("type into %s: %v", sel, err)
	}
}

// fillShipping types a first purchase's name, email and Brooklyn address
// into the checkout form, and picks the US.
func (b *phoneBuyer) fillShipping() {
	b.t.Helper()
	b.fill("#name", "Ada Lovelace")
	b.fill("#email", "ada@example.com")
	b.fill("#line1", "221 Kent Avenue")
	b.fill("#city", "Brooklyn")
	b.fill("#region", "NY")
	b.fill("#postal_code", "11249")
	b.choose("#country", "US")
}

// choose picks an option of a select; a select that already shows it costs
// the buyer nothing.
func (b *phoneBuyer) choose(sel chromedp.CSS, value string) {
	b.t.Helper()
	if b.value(sel) == value {
		return
	}
	b.fields++
	if err := chromedp.Do(b.ctx, chromedp.SetValue(sel, value, chromedp.NodeVisible)); err != nil {
		b.t.Fatalf("choose %s in %s: %v", value, sel, err)
	}
}

func (b *phoneBuyer) value(sel chromedp.CSS) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Value(sel))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

func (b *phoneBuyer) text(sel chromedp.CSS) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Text(sel, chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

// From the DM link to the confirmation page in a real browser at phone
// size: the shipping form, the sandbox card page, a declined card (clear
// message, hold kept), then 4242: one paid order and a confirmation DM.
// It reports the taps and fields a first-time buyer needs.
func TestBrowserCheckoutJourney(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("headless Chromium not installed on CI: .ci/run should have installed Debian's chromium")
		}
		t.Skip("headless Chromium not installed: apt-get install chromium, or run bash .ci/run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	s := startShop(t, storage.DriverSQLite, "")
	s.deliver(t, replyTo("1001", 1, "@acme #BuyNow red x2"))
	link := s.linkFor(t, 1)
	b := newPhoneBuyer(t, ctx, chrome)

	// Tap 1: the link in the DM.
	if resp := b.open(link); resp.Status != 200 {
		t.Fatalf("checkout page: status %d", resp.Status)
	}
	if order := b.text(`section[aria-label="Your order"]`); !strings.Contains(order, "2 × Signed vinyl (red)") || !strings.Contains(order, "$50.00") {
		t.Fatalf("checkout page shows %q", order)
	}
	b.fillShipping()
	if os.Getenv("HASHCART_UPDATE_SCREENSHOTS") == "1" {
		if err := chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`)); err != nil {
			t.Fatalf("blur: %v", err)
		}
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		out := filepath.Join("..", "..", "docs", "checkout.png")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", out, len(png))
	}

	// Tap 2: continue to payment.
	if resp := b.tap(`#continue`); resp.Status != 200 || !strings.Contains(resp.URL, "/pay/sandbox/") {
		t.Fatalf("continue: status %d at %s", resp.Status, resp.URL)
	}
	if amount := b.text(".amount"); amount != "$50.00" {
		t.Fatalf("payment page asks for %q, want $50.00", amount)
	}
	card := func(number string) {
		b.fill(`input[autocomplete="cc-name"]`, "Ada Lovelace")
		b.fill(`input[autocomplete="cc-number"]`, number)
		b.fill(`input[autocomplete="cc-exp"]`, "12 / 30")
		b.fill(`input[autocomplete="cc-csc"]`, "123")
	}

	// Tap 3 with a card that is declined: the same effort as a good card.
	card("4000 0000 0000 0002")
	if resp := b.tap(`button[type="submit"]`); resp.Status != 402 {
		t.Fatalf("declined card: status %d at %s, want 402", resp.Status, resp.URL)
	}
	firstTaps, firstFields := b.taps, b.fields
	if alert := b.text(`[role="alert"]`); !strings.Contains(alert, "declined") {
		t.Fatalf("declined card: the alert says %q", alert)
	}
	if h, err := s.db.Shop().Hold(ctx, 1); err != nil || h.Status != commerce.HoldActive {
		t.Fatalf("hold after a declined card = %+v, %v; want %s", h.Status, err, commerce.HoldActive)
	}
	if o, err := s.db.Orders().OrderForHold(ctx, 1); err == nil && o.Status == commerce.OrderPaid {
		t.Fatal("the order is paid after a declined card")
	}

	// The retry: the page kept the name and expiry; type the number and code.
	if name, exp := b.value(`input[autocomplete="cc-name"]`), b.value(`input[autocomplete="cc-exp"]`); name != "Ada Lovelace" || exp != "12 / 30" {
		t.Errorf("after a decline the page kept name %q and expiry %q", name, exp)
	}
	for _, f := range []chromedp.CSS{`input[autocomplete="cc-number"]`, `input[autocomplete="cc-csc"]`} {
		if v := b.value(f); v != "" {
			t.Fatalf("after a decline %s still holds %q", f, v)
		}
	}
	b.fill(`input[autocomplete="cc-number"]`, "4242 4242 4242 4242")
	b.fill(`input[autocomplete="cc-csc"]`, "123")
	if resp := b.tap(`button[type="submit"]`); resp.Status != 200 || !strings.HasSuffix(resp.URL, "/done") {
		t.Fatalf("good card: status %d at %s", resp.Status, resp.URL)
	}
	if page := b.text("main"); !strings.Contains(page, "is confirmed") || !strings.Contains(page, "HC-000001") {
		t.Fatalf("confirmation page says:\n%s", page)
	}

	orders, err := s.db.Orders().BuyerOrders(ctx, "901")
	if err != nil || len(orders) != 1 {
		t.Fatalf("buyer has %d orders (%v), want 1", len(orders), err)
	}
	o, err := s.db.Orders().OrderForHold(ctx, 1)
	if err != nil || o.ID != orders[0].ID || o.Status != commerce.OrderPaid || o.Method == nil || o.Method.Last4 != "4242" {
		t.Fatalf("order = %+v, %v; want one paid with the 4242 card", o, err)
	}
	dms, err := s.sim.WaitDMs(ctx, 2)
	if err != nil {
		t.Fatalf("waiting for the confirmation DM: %v", err)
	}
	if !strings.Contains(dms[1].Text, "HC-000001 is confirmed") {
		t.Fatalf("confirmation DM %q", dms[1].Text)
	}

	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("the browser console reported:\n%s", strings.Join(errs, "\n"))
	}

	line := fmt.Sprintf("browser checkout: first purchase took %d taps and %d fields; a declined card cost %d more taps and %d fields",
		firstTaps, firstFields, b.taps-firstTaps, b.fields-firstFields)
	t.Log(line)
	fmt.Println(line)
}
