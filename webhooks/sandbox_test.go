package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/commerce/sandbox"
)

var sandboxNow = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

const sandboxTestSecret = "0123456789abcdef0123456789abcdef-webhooks"

// applied records the outcomes Apply received; err, when set, is returned
// (once per call) to simulate the store failing.
type applied struct {
	mu       sync.Mutex
	outcomes []commerce.PaymentOutcome
	err      error
}

func (a *applied) apply(_ context.Context, o commerce.PaymentOutcome) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.outcomes = append(a.outcomes, o)
	return a.err
}

func (a *applied) all() []commerce.PaymentOutcome {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]commerce.PaymentOutcome(nil), a.outcomes...)
}

type sandboxFixture struct {
	app     *fiber.App
	prov    *sandbox.Provider
	applied *applied
	logs    *bytes.Buffer
	now     time.Time
	session commerce.PaymentSession
	path    string
}

func newSandboxFixture(t *testing.T) *sandboxFixture {
	t.Helper()
	f := &sandboxFixture{applied: &applied{}, logs: &bytes.Buffer{}, now: sandboxNow}
	f.prov = &sandbox.Provider{Secret: []byte(sandboxTestSecret), PublicURL: "https://shop.example", Now: func() time.Time { return f.now }}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.app = NewApp(1<<20, log)
	(&SandboxPages{Provider: f.prov, Apply: f.applied.apply, Log: log}).Mount(f.app)
	var err error
	f.session, err = f.prov.StartPayment(context.Background(), commerce.PaymentRequest{
		OrderID:     42,
		Reference:   "HC-000042",
		BuyerID:     "buyer-1",
		Amount:      commerce.Money{Amount: 2500, Currency: "USD"},
		Description: "1 × Tote bag <blue>",
		Email:       "ada@example.com",
		ReturnURL:   "https://shop.example/checkout/tok/done",
		CancelURL:   "https://shop.example/checkout/tok",
		ExpiresAt:   sandboxNow.Add(15 * time.Minute),
		SaveMethod:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.path = strings.TrimPrefix(f.session.RedirectURL, "https://shop.example")
	return f
}

func (f *sandboxFixture) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := f.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func (f *sandboxFixture) pay(t *testing.T, path string, card sandbox.Card) (*http.Response, string) {
	t.Helper()
	form := url.Values{"cc-name": {card.Name}, "cc-number": {card.Number}, "cc-exp": {card.Exp}, "cc-csc": {card.CSC}}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.do(t, req)
}

func (f *sandboxFixture) deliver(t *testing.T, body []byte, sig string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/sandbox", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(SandboxSignatureHeader, sig)
	}
	resp, _ := f.do(t, req)
	return resp
}

// inputTag returns the <input> element with the given id.
func inputTag(t *testing.T, page, id string) string {
	t.Helper()
	tag := regexp.MustCompile(`<input[^>]*id="` + id + `"[^>]*>`).FindString(page)
	if tag == "" {
		t.Fatalf("no input %s in page:\n%s", id, page)
	}
	return tag
}

func assertPageHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	want := map[string]string{
		"Cache-Control":           "no-store",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Content-Type":            "text/html; charset=utf-8",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

var (
	goodCard     = sandbox.Card{Name: "Ada Lovelace", Number: "4242 4242 4242 4242", Exp: "12 / 30", CSC: "987"}
	declinedCard = sandbox.Card{Name: "Ada Lovelace", Number: "4000 0000 0000 0002", Exp: "12 / 30", CSC: "987"}
)

func TestSandboxPageOffersCardFormWithAutocomplete(t *testing.T) {
	f := newSandboxFixture(t)
	resp, page := f.do(t, httptest.NewRequest(http.MethodGet, f.path, nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200:\n%s", resp.StatusCode, page)
	}
	assertPageHeaders(t, resp)
	for _, want := range []string{
		"Sandbox payment — no real money moves",
		"$25.00",
		"1 × Tote bag &lt;blue&gt;", // escaped, not markup
		`<label for="cc-name">`, `autocomplete="cc-name"`,
		`<label for="cc-number">`, `autocomplete="cc-number"`,
		`<label for="cc-exp">`, `autocomplete="cc-exp"`,
		`<label for="cc-csc">`, `autocomplete="cc-csc"`,
		`<button type="submit">Pay $25.00</button>`,
		`href="https://shop.example/checkout/tok"`,
		"4242 4242 4242 4242", "4000 0000 0000 0002", "4000 0000 0000 9995",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if tag := inputTag(t, page, "cc-number"); !strings.Contains(tag, `inputmode="numeric"`) {
		t.Errorf("card number input is not numeric: %s", tag)
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "role=\"alert\"") {
		t.Errorf("fresh page has a script or an alert")
	}
	if len(page) > 20*1024 {
		t.Errorf("page is %d bytes, want under 20 KB", len(page))
	}
}

func TestSandboxPageForForgedOrExpiredSession(t *testing.T) {
	cases := []struct {
		name    string
		path    func(f *sandboxFixture) string
		later   time.Duration
		status  int
		heading string
	}{
		{"forged", func(f *sandboxFixture) string { return "/pay/sandbox/eyJvaWQiOjF9.AAAA" }, 0, http.StatusNotFound, "This payment page doesn&#39;t work"},
		{"tampered", func(f *sandboxFixture) string { return strings.Replace(f.path, ".", "x.", 1) }, 0, http.StatusNotFound, "This payment page doesn&#39;t work"},
		{"expired", func(f *sandboxFixture) string { return f.path }, 15 * time.Minute, http.StatusGone, "This payment page has expired"},
	}
	for _, tc := range cases {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(tc.name+" "+method, func(t *testing.T) {
				f := newSandboxFixture(t)
				f.now = f.now.Add(tc.later)
				var resp *http.Response
				var page string
				if method == http.MethodGet {
					resp, page = f.do(t, httptest.NewRequest(method, tc.path(f), nil))
				} else {
					resp, page = f.pay(t, tc.path(f), goodCard)
				}
				if resp.StatusCode != tc.status || !strings.Contains(page, tc.heading) {
					t.Fatalf("status %d, want %d with %q:\n%s", resp.StatusCode, tc.status, tc.heading, page)
				}
				assertPageHeaders(t, resp)
				if strings.Contains(page, `name="cc-number"`) {
					t.Fatalf("unusable session still shows the card form")
				}
				if n := len(f.applied.all()); n != 0 {
					t.Fatalf("Apply called %d times for an unusable session", n)
				}
			})
		}
	}
}

func TestSandboxGoodCardRedirectsAndAppliesPaidOutcome(t *testing.T) {
	f := newSandboxFixture(t)
	resp, page := f.pay(t, f.path, goodCard)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://shop.example/checkout/tok/done" {
		t.Fatalf("status %d Location %q, want 303 to the return URL:\n%s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	got := f.applied.all()
	if len(got) != 1 {
		t.Fatalf("Apply called %d times, want 1", len(got))
	}
	o := got[0]
	if !o.Paid || o.OrderID != 42 || o.EventID == "" || !strings.HasPrefix(o.PaymentRef, "ch_sbx_") || o.Method == nil {
		t.Fatalf("outcome = %+v, want a paid outcome with a saved method", o)
	}
	if o.Method.Brand != "Visa" || o.Method.Last4 != "4242" || o.Method.Provider != "sandbox" {
		t.Fatalf("method = %+v, want sandbox Visa 4242", *o.Method)
	}
	seen := fmt.Sprintf("%+v %+v", o, *o.Method) + f.logs.String()
	for _, secret := range []string{"4242424242424242", "4242 4242 4242 4242", "42424242", "Ada Lovelace", "12 / 30"} {
		if strings.Contains(seen, secret) {
			t.Fatalf("outcome or logs contain card data %q:\n%s", secret, seen)
		}
	}
}

func TestSandboxDeclineShowsReasonAndBuyerCanRetry(t *testing.T) {
	f := newSandboxFixture(t)
	resp, page := f.pay(t, f.path, declinedCard)
	if resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("status %d, want 402:\n%s", resp.StatusCode, page)
	}
	assertPageHeaders(t, resp)
	if !regexp.MustCompile(`role="alert">Your card was declined\.<`).MatchString(page) {
		t.Fatalf("no declined alert in page:\n%s", page)
	}
	if tag := inputTag(t, page, "cc-name"); !strings.Contains(tag, `value="Ada Lovelace"`) {
		t.Errorf("name not kept: %s", tag)
	}
	if tag := inputTag(t, page, "cc-exp"); !strings.Contains(tag, `value="12 / 30"`) {
		t.Errorf("expiry not kept: %s", tag)
	}
	for _, id := range []string{"cc-number", "cc-csc"} {
		if tag := inputTag(t, page, id); strings.Contains(tag, "value=") {
			t.Errorf("%s echoed back: %s", id, tag)
		}
	}
	if strings.Contains(page, "987") {
		t.Errorf("security code appears in the page")
	}
	got := f.applied.all()
	if len(got) != 1 || got[0].Paid || got[0].Reason != sandbox.ReasonDeclined || got[0].Method != nil {
		t.Fatalf("Apply got %+v, want one failed outcome", got)
	}

	resp, page = f.pay(t, f.path, goodCard)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry status %d, want 303:\n%s", resp.StatusCode, page)
	}
	got = f.applied.all()
	if len(got) != 2 || !got[1].Paid || got[1].EventID == got[0].EventID {
		t.Fatalf("Apply got %+v, want a failed then a paid outcome", got)
	}
	if strings.Contains(f.logs.String(), "4000000000000002") || strings.Contains(f.logs.String(), "4000 0000 0000 0002") {
		t.Fatalf("logs contain the card number:\n%s", f.logs)
	}
}

func TestSandboxInvalidFieldIsMarkedAndNothingCharged(t *testing.T) {
	cases := []struct {
		name  string
		card  sandbox.Card
		field string
		text  string
	}{
		{"bad luhn", sandbox.Card{Name: "Ada", Number: "4242 4242 4242 4241", Exp: "12/30", CSC: "123"}, "cc-number", "Your card number is incorrect."},
		{"bad expiry", sandbox.Card{Name: "Ada", Number: "4242 4242 4242 4242", Exp: "13/30", CSC: "123"}, "cc-exp", "Your card&#39;s expiration month is invalid."},
		{"short code", sandbox.Card{Name: "Ada", Number: "4242 4242 4242 4242", Exp: "12/30", CSC: "1"}, "cc-csc", "Your card&#39;s security code is incomplete."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newSandboxFixture(t)
			resp, page := f.pay(t, f.path, tc.card)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `role="alert">`+tc.text) {
				t.Fatalf("status %d, want 422 with %q:\n%s", resp.StatusCode, tc.text, page)
			}
			if tag := inputTag(t, page, tc.field); !strings.Contains(tag, `aria-invalid="true"`) {
				t.Errorf("field at fault not marked: %s", tag)
			}
			if n := len(f.applied.all()); n != 0 {
				t.Fatalf("Apply called %d times for a refused card", n)
			}
		})
	}
}

func TestSandboxPaidButNotAppliedAsksBuyerToRetry(t *testing.T) {
	f := newSandboxFixture(t)
	f.applied.err = errors.New("database is down")
	resp, page := f.pay(t, f.path, goodCard)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "could not be confirmed") {
		t.Fatalf("status %d, want 503 asking to retry:\n%s", resp.StatusCode, page)
	}
	f.applied.err = nil
	resp, _ = f.pay(t, f.path, goodCard)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry status %d, want 303", resp.StatusCode)
	}
	got := f.applied.all()
	if len(got) != 2 || got[0].EventID != got[1].EventID || got[0].PaymentRef != got[1].PaymentRef {
		t.Fatalf("retry reported a different payment: %+v", got)
	}
}

// signSandboxEvent writes a Stripe-style header the way the sandbox does, from outside.
func signSandboxEvent(secret string, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func TestSandboxWebhookChecksSignatureBeforeApplying(t *testing.T) {
	f := newSandboxFixture(t)
	s, err := f.prov.Session(f.session.ID)
	if err != nil {
		t.Fatal(err)
	}
	body, sig, err := f.prov.Event(s, f.prov.Charge(s, sandbox.Card{Name: "A", Number: "4242424242424242", Exp: "12/30", CSC: "123"}))
	if err != nil {
		t.Fatal(err)
	}
	garbage := []byte(`{"id":"nope"}`)
	cases := []struct {
		name     string
		body     []byte
		sig      string
		applyErr error
		status   int
		applied  int
	}{
		{"genuine", body, sig, nil, http.StatusOK, 1},
		{"forged signature", body, signSandboxEvent("someone-elses-secret-someone-elses", sandboxNow, body), nil, http.StatusUnauthorized, 0},
		{"missing signature", body, "", nil, http.StatusUnauthorized, 0},
		{"signature older than 300 s", body, signSandboxEvent(sandboxTestSecret, sandboxNow.Add(-301*time.Second), body), nil, http.StatusUnauthorized, 0},
		{"body altered", bytes.Replace(body, []byte(`"order_id":42`), []byte(`"order_id":7`), 1), sig, nil, http.StatusUnauthorized, 0},
		{"signed but malformed", garbage, signSandboxEvent(sandboxTestSecret, sandboxNow, garbage), nil, http.StatusBadRequest, 0},
		{"apply fails", body, sig, errors.New("db down"), http.StatusInternalServerError, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newSandboxFixture(t)
			f.applied.err = tc.applyErr
			resp := f.deliver(t, tc.body, tc.sig)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if n := len(f.applied.all()); n != tc.applied {
				t.Fatalf("Apply called %d times, want %d", n, tc.applied)
			}
		})
	}
}

func TestSandboxWebhookAppliesEveryDeliveryOfAnEvent(t *testing.T) {
	// The webhook keeps no memory of events: deduplication by EventID is
	// Apply's job (the order store's ApplyPayment reports Duplicate), so a
	// provider's retry of a delivered event reaches Apply again.
	f := newSandboxFixture(t)
	s, _ := f.prov.Session(f.session.ID)
	body, sig, err := f.prov.Event(s, f.prov.Charge(s, sandbox.Card{Name: "A", Number: "4242424242424242", Exp: "12/30", CSC: "123"}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if resp := f.deliver(t, body, sig); resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i+1, resp.StatusCode)
		}
	}
	got := f.applied.all()
	if len(got) != 2 || got[0].EventID != got[1].EventID {
		t.Fatalf("Apply got %+v, want the same event twice", got)
	}
}
