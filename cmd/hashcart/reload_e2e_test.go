package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/xsim"
)

// startReloadShop is startShop with info logs (to see "offers reloaded")
// and the configuration file polled every poll ("0": SIGHUP only).
func startReloadShop(t *testing.T, driver, poll string) *shop {
	t.Helper()
	t.Setenv(reloadPollEnv, poll)
	sim := xsim.New(xsim.Options{ConsumerKey: "e2e-consumer-key", ConsumerSecret: testSecret})
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	drv, dsn := storagetest.DSN(t, driver)
	port := freePort(t)
	path := writeShopConfig(t, port, drv, dsn, api.URL, "2", "")
	editConfig(t, path, "log: { level: warn }", "log: { level: info }")
	in := start(t, path, fmt.Sprintf("http://127.0.0.1:%d", port))
	return &shop{instance: in, sim: sim, db: openDB(t, drv, dsn), driver: drv, dsn: dsn}
}

// editConfig makes each old -> new replacement (given in pairs) in the
// file and writes it back in one step, as a merchant's editor would: a
// temporary file renamed over the old one, so a poll sees either the file
// before the edit or after all of it, never a half-written file or half the
// edits.
func editConfig(t *testing.T, path string, oldNew ...string) {
	t.Helper()
	if len(oldNew)%2 != 0 {
		t.Fatalf("editConfig wants old, new pairs, got %d strings", len(oldNew))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("config has no %q", oldNew[i])
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	tmp := path + ".edit"
	if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits until the logs hold n matches of re.
func (s *shop) waitLog(t *testing.T, re *regexp.Regexp, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(re.FindAllString(s.logs.String(), -1)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("logs have %d lines matching %s, want %d:\n%s", len(re.FindAllString(s.logs.String(), -1)), re, n, s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// buyTen replies #BuyNow to the numbered print's post as shopper n and
// returns the checkout link DMed to them and its page.
func (s *shop) buyTen(t *testing.T, n int) (string, page) {
	t.Helper()
	s.deliver(t, replyTo("1006", n, "#BuyNow"))
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, dm := range s.sim.DMsTo(fmt.Sprint(900 + n)) {
			if link := linkRE.FindString(dm.Text); link != "" {
				return link, get(t, link)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no checkout link DMed to shopper %d", n)
	return "", page{}
}

func (s *shop) remainingTen(t *testing.T) int {
	t.Helper()
	left, err := s.db.Shop().Remaining(context.Background(), &commerce.Offer{MerchantID: "acme", ID: "ten"})
	if err != nil || left[""] == nil {
		t.Fatalf("remaining: %v %v", left, err)
	}
	return *left[""]
}

var (
	reloadedRE = regexp.MustCompile(`msg="offers reloaded" trigger="file changed" merchants=1 offers=4`)
	refusedRE  = regexp.MustCompile(`msg="offers not reloaded" trigger="file changed" problem="[^"]*config\.yaml:\d+: [^"]*price`)
)

// Editing an offer's price in the file changes the next checkout's price
// without a restart; a hold already made keeps its price and the units
// already sold and held stay counted when the stock changes; a broken edit
// is refused, logged with file:line, and the last good offers keep serving.
func TestEditedOfferPriceServesWithoutRestart(t *testing.T) {
	for _, driver := range []string{storage.DriverSQLite, storage.DriverPostgres} {
		t.Run(driver, func(t *testing.T) { editedOfferPriceServes(t, driver) })
	}
}

func editedOfferPriceServes(t *testing.T, driver string) {
	s := startReloadShop(t, driver, "100ms")

	link1, first := s.buyTen(t, 1)
	if !strings.Contains(first.body, "$40.00") {
		t.Fatalf("first checkout page:\n%s", first.body)
	}
	payOnThePage(t, link1)
	link2, second := s.buyTen(t, 2)
	if !strings.Contains(second.body, "$40.00") {
		t.Fatalf("second checkout page:\n%s", second.body)
	}
	if got := s.remainingTen(t); got != 8 {
		t.Fatalf("remaining before the edit = %d, want 8 (10 - 1 sold - 1 held)", got)
	}

	editConfig(t, s.config, `price: "40.00"
        stock: 10`, `price: "45.00"
        stock: 12`)
	s.waitLog(t, reloadedRE, 1)
	_, third := s.buyTen(t, 3)
	if !strings.Contains(third.body, "$45.00") || strings.Contains(third.body, "$40.00") {
		t.Fatalf("checkout after the price edit, want $45.00:\n%s", third.body)
	}
	if again := get(t, link2); !strings.Contains(again.body, "$40.00") {
		t.Fatalf("a hold made before the edit keeps its price, page:\n%s", again.body)
	}
	if got := s.remainingTen(t); got != 9 {
		t.Fatalf("remaining after stock 10 -> 12 = %d, want 9 (12 - 1 sold - 2 held): sold and held must be kept", got)
	}

	editConfig(t, s.config, `price: "45.00"`, `price: "forty"`)
	s.waitLog(t, refusedRE, 1)
	_, fourth := s.buyTen(t, 4)
	if !strings.Contains(fourth.body, "$45.00") {
		t.Fatalf("after a broken edit the last good price serves, page:\n%s", fourth.body)
	}
	if n := len(reloadedRE.FindAllString(s.logs.String(), -1)); n != 1 {
		t.Fatalf("broken edit logged as reloaded (%d reloads)", n)
	}

	// A change that needs a restart is named, and the offers still reload.
	editConfig(t, s.config, `price: "forty"`, `price: "46.00"`,
		"access_secret: acme-secret", "access_secret: rotated")
	s.waitLog(t, reloadedRE, 2)
	if !strings.Contains(s.logs.String(), `need a restart were not applied" keys=merchants[acme].access_secret`) {
		t.Fatalf("no restart warning for access_secret:\n%s", s.logs.String())
	}
	if _, p := s.buyTen(t, 5); !strings.Contains(p.body, "$46.00") {
		t.Fatalf("after the second reload, want $46.00:\n%s", p.body)
	}
}

// With polling off, the file is read again on SIGHUP only; a merchant's
// templates reload with the offers.
func TestSIGHUPReloadsOffers(t *testing.T) {
	s := startReloadShop(t, storage.DriverSQLite, "0")
	editConfig(t, s.config, `price: "40.00"`, `price: "41.50"`)
	editConfig(t, s.config, "    currency: USD\n", "    currency: USD\n    templates: { dm_checkout: \"Yours for {{.Total}}: {{.Link}}\" }\n")
	time.Sleep(300 * time.Millisecond)
	if _, p := s.buyTen(t, 1); !strings.Contains(p.body, "$40.00") {
		t.Fatalf("without SIGHUP and polling off, want the old $40.00:\n%s", p.body)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, regexp.MustCompile(`msg="offers reloaded" trigger=SIGHUP`), 1)
	if _, p := s.buyTen(t, 2); !strings.Contains(p.body, "$41.50") {
		t.Fatalf("after SIGHUP, want $41.50:\n%s", p.body)
	}
	if dms := s.sim.DMsTo("902"); len(dms) != 1 || !strings.HasPrefix(dms[0].Text, "Yours for $41.50: http") {
		t.Fatalf("DM after the template reload = %+v, want the merchant's new dm_checkout", dms)
	}
	if s.cmd.ProcessState != nil {
		t.Fatal("SIGHUP stopped the process")
	}
}
