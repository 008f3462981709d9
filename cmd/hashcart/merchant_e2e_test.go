package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/xsim"
)

const (
	betaMerchant  = "3344556677"
	acmeDashToken = "acme-dash-0123456789abcdef0123456789abcdef"
	betaDashToken = "beta-dash-0123456789abcdef0123456789abcdef"
)

// startTwoShops runs hashcart with two merchants, acme and beta, each with
// a dashboard token.
func startTwoShops(t *testing.T, driver string) *shop {
	t.Helper()
	sim := xsim.New(xsim.Options{ConsumerKey: "e2e-consumer-key", ConsumerSecret: testSecret})
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	drv, dsn := storagetest.DSN(t, driver)
	port := freePort(t)
	cfg := fmt.Sprintf(`server:
  listen: "127.0.0.1:%d"
  public_url: "http://127.0.0.1:%d"
  shutdown_timeout: 5s
storage: { driver: %s, dsn: %q }
x:
  api_base_url: %q
  consumer_key: e2e-consumer-key
  consumer_secret: %s
intake: { poll_interval: 50ms }
outbox: { poll_interval: 50ms }
log: { level: warn }
merchants:
  - id: acme
    name: Acme Records
    x_user_id: %q
    x_screen_name: acme
    access_token: %s-acme-token
    access_secret: acme-secret
    currency: USD
    dashboard_token: "${E2E_ACME_DASHBOARD_TOKEN}"
    offers:
      - id: signed-vinyl
        title: Signed vinyl
        price: "25.00"
        per_customer_limit: 2
        post_ids: ["1001"]
        ship_to: [US]
        variants: [{ name: black, stock: 60 }, { name: red, stock: 40 }]
  - id: beta
    name: Beta Books
    x_user_id: %q
    x_screen_name: beta
    access_token: %s-beta-token
    access_secret: beta-secret
    currency: USD
    dashboard_token: %s
    offers:
      - id: zine
        title: Beta zine
        price: "9.00"
        stock: 10
        post_ids: ["2001"]
        ship_to: [US]
`, port, port, drv, dsn, api.URL, testSecret, testMerchant, testMerchant, betaMerchant, betaMerchant, betaDashToken)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("E2E_ACME_DASHBOARD_TOKEN", acmeDashToken) // the child process inherits it
	in := start(t, path, fmt.Sprintf("http://127.0.0.1:%d", port))
	return &shop{instance: in, sim: sim, db: openDB(t, drv, dsn), driver: drv, dsn: dsn}
}

// linkTo waits for the first DM to a buyer and returns its link.
func (s *shop) linkTo(t *testing.T, userID string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if dms := s.sim.DMsTo(userID); len(dms) > 0 {
			if link := linkRE.FindString(dms[0].Text); link != "" {
				return link
			}
			t.Fatalf("DM to %s has no link: %q", userID, dms[0].Text)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no DM to %s", userID)
	return ""
}

// payAs checks out a hold's link with the given address and the sandbox
// card 4242.
func payAs(t *testing.T, link string, address url.Values) {
	t.Helper()
	form := get(t, link)
	fields := shipping(csrfOf(t, form))
	for k, v := range address {
		fields[k] = v
	}
	toPay := postForm(t, link, fields)
	if toPay.status != 303 {
		t.Fatalf("submit: %d\n%s", toPay.status, toPay.body)
	}
	paid := postForm(t, toPay.location, url.Values{"cc-name": {"Card Holder"}, "cc-number": {"4242424242424242"}, "cc-exp": {"12/30"}, "cc-csc": {"123"}})
	if paid.status != 303 {
		t.Fatalf("pay: %d\n%s", paid.status, paid.body)
	}
}

// requestWith sends a GET with extra headers, without following redirects.
func requestWith(t *testing.T, u string, header map[string]string) page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(b), resp.Header.Get("Location"), resp.Header}
}

// Two merchants on one hashcart: each dashboard token opens its own
// merchant's stock, orders (with addresses), funnel and CSV, and nothing
// of the other's; a wrong token gets 401.
func TestMerchantTokenShowsOnlyItsOwnOrdersAndFunnel(t *testing.T) {
	for _, driver := range storagetest.Drivers() {
		t.Run(driver, func(t *testing.T) { merchantPageE2E(t, driver) })
	}
}

func merchantPageE2E(t *testing.T, driver string) {
	s := startTwoShops(t, driver)
	// acme: three replies to the vinyl, two holds, one link opened and paid.
	s.deliver(t, replyTo("1001", 1, "#BuyNow red"))
	ada := s.linkTo(t, "901")
	s.deliver(t, replyTo("1001", 2, "#BuyNow black"))
	s.linkTo(t, "902") // never opened
	s.deliver(t, replyTo("1001", 3, "#AddToCart red"))
	s.linkTo(t, "903") // a cart: no hold
	payAs(t, ada, url.Values{})
	// beta: one buyer with another address.
	s.deliver(t, xsim.TweetCreate(betaMerchant, xsim.Tweet{ID: "6004", Text: "#BuyNow", UserID: "904", ScreenName: "shopper4",
		InReplyToStatusID: "2001", InReplyToUserID: betaMerchant, InReplyToScreenName: "beta"}))
	payAs(t, s.linkTo(t, "904"), url.Values{"name": {"Grace Hopper"}, "line1": {"1 Navy Way"}, "city": {"Arlington"},
		"region": {"VA"}, "postal_code": {"22202"}, "email": {"grace@example.com"}})
	s.settle(t)

	// Signing in drops the token from the URL and sets the session cookie.
	in := get(t, s.base+"/merchant?token="+acmeDashToken)
	cookie := in.header.Get("Set-Cookie")
	if in.status != 303 || in.location != "/merchant" || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Fatalf("sign-in: %d to %q, cookie %q", in.status, in.location, cookie)
	}
	session := map[string]string{"Cookie": strings.SplitN(cookie, ";", 2)[0]}
	acme := requestWith(t, s.base+"/merchant", session)
	if acme.status != 200 {
		t.Fatalf("acme's page: %d\n%s", acme.status, acme.body)
	}
	for _, want := range []string{"Acme Records", "HC-000001", "paid", "1 × Signed vinyl (red)", "@shopper1", "Ada Lovelace", "221 Kent Avenue", "Brooklyn NY 11249", "ada@example.com",
		// live stock: red 40, one sold; black 60, one held
		`<td>Signed vinyl</td><td>red</td><td class="n">40</td><td class="n">0</td><td class="n">1</td><td class="n">39</td>`,
		`<td>Signed vinyl</td><td>black</td><td class="n">60</td><td class="n">1</td><td class="n">0</td><td class="n">59</td>`,
		// the funnel the test made
		`aria-label="Signed vinyl: replies 3, holds 2, links opened 1, paid 1, reminders sent 0, recovered 0"`} {
		if !strings.Contains(acme.body, want) {
			t.Errorf("acme's page lacks %s", want)
		}
	}
	for _, never := range []string{"HC-000002", "Grace Hopper", "Navy Way", "Arlington", "grace@example.com", "@shopper4", "Beta zine"} {
		if strings.Contains(acme.body, never) {
			t.Errorf("acme's page shows beta's %q", never)
		}
	}

	// The CSV: acme's by cookie and by bearer token, never beta's rows.
	for name, h := range map[string]map[string]string{"cookie": session, "bearer": {"Authorization": "Bearer " + acmeDashToken}} {
		csv := requestWith(t, s.base+"/merchant/orders.csv", h)
		if csv.status != 200 || !strings.Contains(csv.body, "HC-000001,paid,") || !strings.Contains(csv.body, "Ada Lovelace,221 Kent Avenue,,Brooklyn,NY,11249,US,ada@example.com") {
			t.Errorf("acme's CSV by %s: %d\n%s", name, csv.status, csv.body)
		}
		if strings.Contains(csv.body, "Grace") || strings.Contains(csv.body, "HC-000002") || strings.Count(csv.body, "\n") != 2 {
			t.Errorf("acme's CSV by %s has other rows:\n%s", name, csv.body)
		}
	}

	// beta's token: beta's order only.
	beta := requestWith(t, s.base+"/merchant/orders.csv", map[string]string{"Authorization": "Bearer " + betaDashToken})
	if beta.status != 200 || !strings.Contains(beta.body, "HC-000002,paid,") || !strings.Contains(beta.body, "Grace Hopper,1 Navy Way") || strings.Contains(beta.body, "Ada") {
		t.Errorf("beta's CSV: %d\n%s", beta.status, beta.body)
	}

	// Wrong tokens.
	if p := get(t, s.base+"/merchant?token=wrong-"+acmeDashToken); p.status != 401 || !strings.Contains(p.body, "not right") || strings.Contains(p.body, "HC-0000") {
		t.Errorf("wrong token: %d\n%s", p.status, p.body)
	}
	if p := requestWith(t, s.base+"/merchant/orders.csv", map[string]string{"Authorization": "Bearer " + acmeDashToken + "x"}); p.status != 401 || strings.Contains(p.body, "Ada") {
		t.Errorf("wrong bearer: %d\n%s", p.status, p.body)
	}
	if strings.Contains(s.logs.String(), acmeDashToken) {
		t.Errorf("the token is in the logs")
	}
	// The orders' addresses are still sealed at rest.
	if all := storagetest.AllText(t, s.driver, s.dsn); strings.Contains(all, "Navy Way") || strings.Contains(all, "Kent Avenue") {
		t.Error("an address is stored in the clear")
	}
}
