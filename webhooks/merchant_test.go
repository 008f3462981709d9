package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

const (
	acmeToken = "acme-dashboard-token-0123456789abcdef"
	betaToken = "beta-dashboard-token-0123456789abcdef"
)

// merchantFake is the stores, keyed by merchant id as the real ones are.
type merchantFake struct {
	orders  map[string][]commerce.Order
	stock   map[string][]commerce.StockLevel
	funnels map[string][]commerce.OfferFunnel
	asked   []string // merchant ids the page asked about
}

func (f *merchantFake) MerchantStock(_ context.Context, id string) ([]commerce.StockLevel, error) {
	f.asked = append(f.asked, id)
	return f.stock[id], nil
}
func (f *merchantFake) Funnel(_ context.Context, id string, _ time.Time) ([]commerce.OfferFunnel, error) {
	f.asked = append(f.asked, id)
	return f.funnels[id], nil
}
func (f *merchantFake) ScreenNames(_ context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		out[id] = "handle" + id
	}
	return out, nil
}
func (f *merchantFake) LatestMerchantOrders(_ context.Context, id string, limit int) ([]commerce.Order, error) {
	f.asked = append(f.asked, id)
	return f.orders[id], nil
}
func (f *merchantFake) MerchantOrders(_ context.Context, id string, _ time.Time) ([]commerce.Order, error) {
	f.asked = append(f.asked, id)
	return f.orders[id], nil
}

type merchantFixture struct {
	page *MerchantPage
	fake *merchantFake
	logs *bytes.Buffer
	now  time.Time
	srv  *httptest.Server
}

func intPtr(n int) *int { return &n }

func newMerchantFixture(t *testing.T) *merchantFixture {
	t.Helper()
	f := &merchantFixture{logs: &bytes.Buffer{}, now: time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)}
	vinyl := &commerce.Offer{MerchantID: "acme", ID: "vinyl", Title: "Signed vinyl", Price: commerce.Money{Amount: 2500, Currency: "USD"}}
	zine := &commerce.Offer{MerchantID: "beta", ID: "zine", Title: "Beta zine", Price: commerce.Money{Amount: 900, Currency: "USD"}}
	cat := commerce.NewCatalog([]*commerce.Merchant{
		{ID: "acme", Name: "Acme Records", XUserID: "1", Currency: "USD", Offers: []*commerce.Offer{vinyl}},
		{ID: "beta", Name: "Beta Books", XUserID: "2", Currency: "USD", Offers: []*commerce.Offer{zine}},
	})
	order := func(id int64, merchant, buyer, name, line1 string, offer *commerce.Offer) commerce.Order {
		return commerce.Order{ID: id, MerchantID: merchant, BuyerID: buyer, Status: commerce.OrderPaid, CreatedAt: f.now,
			Lines:    []commerce.OrderLine{{OfferID: offer.ID, Title: offer.Title, Quantity: 1, UnitPrice: offer.Price}},
			Total:    offer.Price,
			Shipping: commerce.Address{Name: name, Line1: line1, City: "Brooklyn", Region: "NY", PostalCode: "11249", Country: "US"},
			Contact:  commerce.Contact{Email: strings.ToLower(strings.Fields(name)[0]) + "@example.com"}}
	}
	f.fake = &merchantFake{
		orders: map[string][]commerce.Order{
			"acme": {order(1, "acme", "901", "Ada Lovelace", "221 Kent Avenue", vinyl)},
			"beta": {order(2, "beta", "904", "Grace Hopper", "1 Navy Way", zine)},
		},
		stock: map[string][]commerce.StockLevel{
			"acme": {{OfferID: "vinyl", Variant: "red", Total: intPtr(20), Held: 2, Sold: 1}, {OfferID: "vinyl", Variant: "black", Total: intPtr(3), Held: 1, Sold: 2}},
			"beta": {{OfferID: "zine", Variant: "", Total: nil, Held: 0, Sold: 7}},
		},
		funnels: map[string][]commerce.OfferFunnel{
			"acme": {{OfferID: "vinyl", Replies: 3, Holds: 2, LinksOpened: 1, Paid: 1, Reminders: 1, Recovered: 0}},
			"beta": {{OfferID: "zine", Replies: 9, Holds: 8, LinksOpened: 7, Paid: 7}},
		},
	}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.page = &MerchantPage{
		Access:     []MerchantAccess{{ID: "acme", Token: acmeToken}, {ID: "beta", Token: betaToken}},
		Shop:       f.fake,
		Orders:     f.fake,
		Catalog:    func() *commerce.Catalog { return cat },
		SessionKey: []byte("merchant-session-key-for-tests"),
		Refresh:    30 * time.Second,
		Now:        func() time.Time { return f.now },
		Log:        log,
	}
	app := NewApp(1<<20, log)
	f.page.Mount(app)
	f.srv = httptest.NewServer(adaptor(app))
	t.Cleanup(f.srv.Close)
	return f
}

// adaptor serves a Fiber app through net/http for httptest.
func adaptor(app interface {
	Test(*http.Request, ...int) (*http.Response, error)
}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := httptest.NewRequest(r.Method, r.URL.String(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := app.Test(req, -1)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
}

type merchantResp struct {
	status int
	body   string
	header http.Header
}

func (f *merchantFixture) do(t *testing.T, method, path string, form url.Values, header map[string]string) merchantResp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return merchantResp{resp.StatusCode, string(b), resp.Header}
}

// signIn exchanges a token for the session cookie ("name=value").
func (f *merchantFixture) signIn(t *testing.T, token string) string {
	t.Helper()
	r := f.do(t, "GET", "/merchant?token="+url.QueryEscape(token), nil, nil)
	if r.status != 303 || r.header.Get("Location") != "/merchant" {
		t.Fatalf("sign-in with a token: %d to %q", r.status, r.header.Get("Location"))
	}
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"hashcart_merchant=", "HttpOnly", "SameSite=Strict", "path=/merchant"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, token) || strings.Contains(cookie, "secure") {
		t.Errorf("session cookie %q carries the token or is Secure on http", cookie)
	}
	return strings.SplitN(cookie, ";", 2)[0]
}

func TestMerchantTokenShowsOnlyThatMerchantsOrders(t *testing.T) {
	f := newMerchantFixture(t)
	cookie := f.signIn(t, acmeToken)
	page := f.do(t, "GET", "/merchant", nil, map[string]string{"Cookie": cookie})
	if page.status != 200 {
		t.Fatalf("dashboard: %d\n%s", page.status, page.body)
	}
	for _, want := range []string{"Acme Records", "HC-000001", "Ada Lovelace", "221 Kent Avenue", "Brooklyn NY 11249", "@handle901", "ada@example.com", "$25.00",
		`<meta http-equiv="refresh" content="30">`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	for _, never := range []string{"HC-000002", "Grace Hopper", "Navy Way", "Beta zine", "grace@", "handle904"} {
		if strings.Contains(page.body, never) {
			t.Errorf("acme's dashboard shows beta's %q", never)
		}
	}
	for _, id := range f.fake.asked {
		if id != "acme" {
			t.Errorf("acme's page read merchant %q's data", id)
		}
	}
	if page.header.Get("Cache-Control") != "no-store" || page.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers %v", page.header)
	}

	csv := f.do(t, "GET", "/merchant/orders.csv", nil, map[string]string{"Cookie": cookie})
	if csv.status != 200 || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(csv.body, "HC-000001,paid,") || !strings.Contains(csv.body, "Ada Lovelace,221 Kent Avenue") || strings.Contains(csv.body, "Grace") {
		t.Fatalf("csv with the cookie: %d %v\n%s", csv.status, csv.header, csv.body)
	}
	beta := f.do(t, "GET", "/merchant/orders.csv", nil, map[string]string{"Authorization": "Bearer " + betaToken})
	if beta.status != 200 || !strings.Contains(beta.body, "Grace Hopper,1 Navy Way") || strings.Contains(beta.body, "Ada") {
		t.Fatalf("csv with beta's bearer token: %d\n%s", beta.status, beta.body)
	}
}

func TestWrongTokenGets401AndIsNeverLogged(t *testing.T) {
	f := newMerchantFixture(t)
	wrong := "not-the-token-" + acmeToken
	tests := []struct {
		name   string
		method string
		path   string
		form   url.Values
		header map[string]string
		body   string
	}{
		{"token in the URL", "GET", "/merchant?token=" + url.QueryEscape(wrong), nil, nil, "That token is not right"},
		{"token in the form", "POST", "/merchant/login", url.Values{"token": {wrong}}, map[string]string{"Sec-Fetch-Site": "same-origin"}, "That token is not right"},
		{"empty form", "POST", "/merchant/login", url.Values{"token": {""}}, nil, "That token is not right"},
		{"csv with a wrong bearer", "GET", "/merchant/orders.csv", nil, map[string]string{"Authorization": "Bearer " + wrong}, "valid dashboard token"},
		{"csv with nothing", "GET", "/merchant/orders.csv", nil, nil, "valid dashboard token"},
		{"csv with a prefix of the token", "GET", "/merchant/orders.csv", nil, map[string]string{"Authorization": "Bearer " + acmeToken[:20]}, "valid dashboard token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, tt.form, tt.header)
			if r.status != 401 || !strings.Contains(r.body, tt.body) || r.header.Get("Set-Cookie") != "" {
				t.Fatalf("%d, cookie %q\n%s", r.status, r.header.Get("Set-Cookie"), r.body)
			}
			if !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("no WWW-Authenticate: %v", r.header)
			}
			if strings.Contains(r.body, "HC-0000") {
				t.Errorf("a refused request shows an order")
			}
		})
	}
	if strings.Contains(f.logs.String(), wrong) || strings.Contains(f.logs.String(), acmeToken) {
		t.Errorf("a token is in the logs:\n%s", f.logs.String())
	}
	if !strings.Contains(f.logs.String(), "wrong token") {
		t.Errorf("refusals are not logged:\n%s", f.logs.String())
	}
}

func TestSessionCookieCannotBeForgedOrOutliveItsToken(t *testing.T) {
	f := newMerchantFixture(t)
	cookie := f.signIn(t, acmeToken)
	value := strings.TrimPrefix(cookie, "hashcart_merchant=")
	parts := strings.Split(value, ".")
	forged := "hashcart_merchant=YmV0YQ." + parts[1] + "." + parts[2] // "beta" with acme's signature
	signInForm := func(c string) bool {
		r := f.do(t, "GET", "/merchant", nil, map[string]string{"Cookie": c})
		return r.status == 200 && strings.Contains(r.body, `action="/merchant/login"`) && !strings.Contains(r.body, "HC-0000")
	}
	if !signInForm(forged) {
		t.Error("a cookie naming another merchant with acme's signature opens a dashboard")
	}
	if !signInForm("hashcart_merchant=" + parts[0] + "." + "9999999999" + "." + parts[2]) {
		t.Error("a cookie with a later expiry opens a dashboard")
	}
	if !signInForm("") {
		t.Error("no cookie opens a dashboard")
	}
	if r := f.do(t, "GET", "/merchant/orders.csv", nil, map[string]string{"Cookie": forged}); r.status != 401 {
		t.Errorf("csv with a forged cookie: %d", r.status)
	}

	f.now = f.now.Add(13 * time.Hour)
	if !signInForm(cookie) {
		t.Error("a session 13 hours old still opens the dashboard")
	}
	f.now = f.now.Add(-13 * time.Hour)
	f.page.Access[0].Token = "a-new-acme-token-0123456789abcdef-rotated"
	if !signInForm(cookie) {
		t.Error("a session made with the old token survives the token's change")
	}
}

func TestMerchantLoginFormSignsInAndOut(t *testing.T) {
	f := newMerchantFixture(t)
	if r := f.do(t, "GET", "/merchant", nil, nil); r.status != 200 || !strings.Contains(r.body, `type="password"`) {
		t.Fatalf("sign-in form: %d\n%s", r.status, r.body)
	}
	if r := f.do(t, "POST", "/merchant/login", url.Values{"token": {betaToken}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); r.status != 403 || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("cross-site sign-in: %d", r.status)
	}
	r := f.do(t, "POST", "/merchant/login", url.Values{"token": {betaToken}}, map[string]string{"Sec-Fetch-Site": "same-origin"})
	if r.status != 303 || r.header.Get("Location") != "/merchant" {
		t.Fatalf("sign-in: %d", r.status)
	}
	cookie := strings.SplitN(r.header.Get("Set-Cookie"), ";", 2)[0]
	page := f.do(t, "GET", "/merchant", nil, map[string]string{"Cookie": cookie})
	if !strings.Contains(page.body, "Grace Hopper") || strings.Contains(page.body, "Ada Lovelace") {
		t.Fatalf("beta's dashboard:\n%s", page.body)
	}
	out := f.do(t, "POST", "/merchant/logout", url.Values{}, map[string]string{"Cookie": cookie})
	if out.status != 303 || !strings.Contains(out.header.Get("Set-Cookie"), "hashcart_merchant=;") {
		t.Fatalf("sign-out: %d %q", out.status, out.header.Get("Set-Cookie"))
	}
}

func TestSessionCookieIsSecureBehindHTTPS(t *testing.T) {
	f := newMerchantFixture(t)
	f.page.Secure = true
	r := f.do(t, "GET", "/merchant?token="+acmeToken, nil, nil)
	if c := r.header.Get("Set-Cookie"); !strings.Contains(c, "secure") {
		t.Fatalf("cookie %q is not Secure", c)
	}
}

func TestDashboardDrawsStockAndTheFunnel(t *testing.T) {
	f := newMerchantFixture(t)
	page := f.do(t, "GET", "/merchant", nil, map[string]string{"Cookie": f.signIn(t, acmeToken)})
	for _, want := range []string{
		// stock rows: red 20 - 2 held - 1 sold; black sold out
		`<td>Signed vinyl</td><td>red</td><td class="n">20</td><td class="n">2</td><td class="n">1</td><td class="n">17</td>`,
		`<tr class="out"><td>Signed vinyl</td><td>black</td>`,
		// the chart, in words and bars
		`aria-label="Signed vinyl: replies 3, holds 2, links opened 1, paid 1, reminders sent 1, recovered 0"`,
		`<tspan class="count">3</tspan>`, `67% of replies`, `50% of holds`,
		`<rect class="main" x="128" y="4" width="270"`, `<rect class="main" x="128" y="30" width="180"`,
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	if strings.Contains(page.body, "Beta zine") {
		t.Error("acme's funnel lists beta's offer")
	}
}

func TestMerchantPageIsOffWithoutTokens(t *testing.T) {
	f := newMerchantFixture(t)
	f.page.Access = nil
	if r := f.do(t, "GET", "/merchant?token="+acmeToken, nil, nil); r.status != 404 || !strings.Contains(r.body, "off") {
		t.Fatalf("%d\n%s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/merchant/orders.csv", nil, map[string]string{"Authorization": "Bearer " + acmeToken}); r.status != 401 {
		t.Fatalf("csv: %d", r.status)
	}
}

func TestWrongTokensFromOneAddressAreBounded(t *testing.T) {
	f := newMerchantFixture(t)
	before := f.signIn(t, acmeToken) // a session opened before the guessing
	wrong := "guess-0123456789abcdef-0123456789abcdef"
	for i := 0; i < 10; i++ {
		var r merchantResp
		switch i % 3 {
		case 0:
			r = f.do(t, "GET", "/merchant?token="+url.QueryEscape(wrong), nil, nil)
		case 1:
			r = f.do(t, "POST", "/merchant/login", url.Values{"token": {wrong}}, map[string]string{"Sec-Fetch-Site": "same-origin"})
		case 2:
			r = f.do(t, "GET", "/merchant/orders.csv", nil, map[string]string{"Authorization": "Bearer " + wrong})
		}
		if r.status != 401 {
			t.Fatalf("wrong token %d: %d, want 401", i+1, r.status)
		}
	}

	// The 11th try is refused even with the right token, whichever way it comes.
	url1 := f.do(t, "GET", "/merchant?token="+url.QueryEscape(acmeToken), nil, nil)
	if url1.status != 429 || url1.header.Get("Retry-After") != "900" || url1.header.Get("Set-Cookie") != "" ||
		!strings.Contains(url1.body, "Too many wrong tokens came from your address. Try again in 15 minutes.") {
		t.Fatalf("right token after 10 wrong: %d, Retry-After %q, cookie %q\n%s", url1.status, url1.header.Get("Retry-After"), url1.header.Get("Set-Cookie"), url1.body)
	}
	if r := f.do(t, "POST", "/merchant/login", url.Values{"token": {acmeToken}}, map[string]string{"Sec-Fetch-Site": "same-origin"}); r.status != 429 || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("right token in the form after 10 wrong: %d", r.status)
	}
	if r := f.do(t, "GET", "/merchant/orders.csv", nil, map[string]string{"Authorization": "Bearer " + betaToken}); r.status != 429 || r.header.Get("Retry-After") == "" || strings.Contains(r.body, "Grace") {
		t.Fatalf("csv with the right bearer after 10 wrong: %d %v\n%s", r.status, r.header, r.body)
	}
	// The session opened before still works, CSV included.
	if r := f.do(t, "GET", "/merchant", nil, map[string]string{"Cookie": before}); r.status != 200 || !strings.Contains(r.body, "Ada Lovelace") {
		t.Fatalf("dashboard with an earlier session while refused: %d", r.status)
	}
	if r := f.do(t, "GET", "/merchant/orders.csv", nil, map[string]string{"Cookie": before}); r.status != 200 || !strings.Contains(r.body, "Ada Lovelace") {
		t.Fatalf("csv with an earlier session while refused: %d", r.status)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "too many wrong tokens"); n != 1 {
		t.Errorf("the refusal is logged %d times, want once:\n%s", n, logs)
	}
	if strings.Count(logs, "merchant page: wrong token") != 7 || strings.Contains(logs, wrong) || strings.Contains(logs, acmeToken) {
		t.Errorf("want 7 wrong-token lines (and 3 csv refusals), and no token in the logs:\n%s", logs)
	}

	f.now = f.now.Add(14 * time.Minute)
	if r := f.do(t, "GET", "/merchant?token="+url.QueryEscape(acmeToken), nil, nil); r.status != 429 || r.header.Get("Retry-After") != "60" || !strings.Contains(r.body, "Try again in a minute.") {
		t.Fatalf("14 minutes on: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	f.now = f.now.Add(time.Minute)
	f.signIn(t, acmeToken)
}

func TestARightTokenForgetsTheWrongOnes(t *testing.T) {
	f := newMerchantFixture(t)
	wrongs := func() {
		for i := 0; i < 9; i++ {
			if r := f.do(t, "GET", "/merchant?token=typo-"+acmeToken, nil, nil); r.status != 401 {
				t.Fatalf("wrong token: %d", r.status)
			}
		}
	}
	wrongs()
	f.signIn(t, acmeToken)
	wrongs()
	f.signIn(t, betaToken)
}

func TestSignInLimitIsPerAddress(t *testing.T) {
	var l signInLimiter
	t0 := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	for i := 0; i < signInFailures; i++ {
		l.fail("203.0.113.7", t0.Add(time.Duration(i)*time.Minute))
		l.fail("2001:db8::1", t0)
	}
	at := t0.Add(9 * time.Minute)
	for _, tt := range []struct {
		ip   string
		want time.Duration
	}{
		{"203.0.113.7", 6 * time.Minute}, // until the first failure is 15 minutes old
		{"::ffff:203.0.113.7", 6 * time.Minute},
		{"203.0.113.8", 0},
		{"2001:db8::ffff:1", 6 * time.Minute}, // the same /64
		{"2001:db8:0:1::1", 0},
	} {
		if got := l.wait(tt.ip, at); got != tt.want {
			t.Errorf("wait(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	// One minute later the first failure has aged out: one more try.
	if got := l.wait("203.0.113.7", t0.Add(15*time.Minute)); got != 0 {
		t.Errorf("after the first failure aged out, wait = %v", got)
	}
	if !l.fail("203.0.113.7", t0.Add(15*time.Minute)) || l.wait("203.0.113.7", t0.Add(15*time.Minute)) != time.Minute {
		t.Errorf("a wrong token on the last try left does not refuse the address again for the minute until the next ages out")
	}

	// Remembered addresses stay bounded: first the ones with nothing in the
	// window go, then arbitrary ones.
	var m signInLimiter
	for i := 0; i < signInTracked; i++ {
		m.fail(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), t0)
	}
	m.fail("192.0.2.1", t0.Add(signInWindow))
	if n := len(m.failed); n != 1 {
		t.Errorf("%d addresses remembered after the window passed, want 1", n)
	}
	for i := 0; i < signInTracked+5; i++ {
		m.fail(fmt.Sprintf("172.16.%d.%d", i>>8&255, i&255), t0.Add(signInWindow))
	}
	if n := len(m.failed); n > signInTracked {
		t.Errorf("%d addresses remembered, want at most %d", n, signInTracked)
	}
}
