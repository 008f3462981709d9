package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/xsim"
)

// shop is a running hashcart whose X API is the simulator.
type shop struct {
	*instance
	sim    *xsim.Server
	db     *storage.DB
	driver string
	dsn    string
}

func startShop(t *testing.T, driver string, outboxCfg string) *shop {
	t.Helper()
	return startShopVersion(t, driver, outboxCfg, "2")
}

func startShopVersion(t *testing.T, driver, outboxCfg, apiVersion string) *shop {
	t.Helper()
	sim := xsim.New(xsim.Options{ConsumerKey: "e2e-consumer-key", ConsumerSecret: testSecret})
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	drv, dsn := storagetest.DSN(t, driver)
	port := freePort(t)
	path := writeShopConfig(t, port, drv, dsn, api.URL, apiVersion, outboxCfg)
	in := start(t, path, fmt.Sprintf("http://127.0.0.1:%d", port))
	return &shop{instance: in, sim: sim, db: openDB(t, drv, dsn), driver: drv, dsn: dsn}
}

// writeShopConfig writes the shop's configuration for one process.
func writeShopConfig(t *testing.T, port int, drv, dsn, apiURL, apiVersion, outboxCfg string) string {
	t.Helper()
	if outboxCfg == "" {
		outboxCfg = "outbox: { poll_interval: 50ms }"
	}
	api := struct{ URL string }{apiURL}
	cfg := fmt.Sprintf(`server:
  listen: "127.0.0.1:%d"
  public_url: "http://127.0.0.1:%d"
  shutdown_timeout: 5s
storage: { driver: %s, dsn: %q }
x:
  api_version: %q
  api_base_url: %q
  consumer_key: e2e-consumer-key
  consumer_secret: %s
intake: { poll_interval: 50ms }
%s
log: { level: warn }
merchants:
  - id: acme
    name: Acme Records
    x_user_id: %q
    x_screen_name: acme
    access_token: %s-acme-token
    access_secret: acme-secret
    currency: USD
    order_webhook: { url: "${E2E_ORDER_WEBHOOK:-}", secret: whsec_e2e }
    offers:
      - id: signed-vinyl
        title: Signed vinyl
        price: "25.00"
        per_customer_limit: 2
        post_ids: ["1001"]
        ship_to: [US, CA, GB]
        variants: [{ name: black, stock: 60 }, { name: red, stock: 40 }]
      - id: sticker
        title: Sticker
        price: "0"
        stock: 5
        per_customer_limit: 1
        post_ids: ["1004"]
        hashtags: ["#Claim"]
        ship_to: [US, GB]
      - id: ten
        title: Numbered print
        price: "40.00"
        stock: 10
        per_customer_limit: 1
        post_ids: ["1006"]
        ship_to: [US]
      - id: drop
        title: Limited print
        price: "30.00"
        stock: 50
        per_customer_limit: 1
        post_ids: ["1005"]
`, port, port, drv, dsn, apiVersion, api.URL, testSecret, outboxCfg, testMerchant, testMerchant)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (s *shop) deliver(t testing.TB, payload any) {
	resp, err := s.sim.Deliver(context.Background(), s.base+"/webhooks/x", payload)
	if err != nil {
		t.Errorf("deliver: %v", err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("deliver: status %d", resp.StatusCode)
	}
}

func replyTo(post string, user int, text string) map[string]any {
	return xsim.TweetCreate(testMerchant, xsim.Tweet{
		ID: fmt.Sprint(5000 + user), Text: text, UserID: fmt.Sprint(900 + user), ScreenName: fmt.Sprintf("shopper%d", user),
		InReplyToStatusID: post, InReplyToUserID: testMerchant, InReplyToScreenName: "acme",
	})
}

func dmFrom(user int, id, text string) map[string]any {
	return xsim.DirectMessage(testMerchant, id, fmt.Sprint(900+user), testMerchant, fmt.Sprintf("shopper%d", user), text, time.Now())
}

func wait[T any](t *testing.T, what string, f func(context.Context) (T, error)) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := f(ctx)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return v
}

// settle waits until the outbox has nothing left to send.
func (s *shop) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		pendingInbox, _ := s.db.Inbox().CountWhere(context.Background(), "status = 'pending'")
		counts, err := s.db.Outbox().Counts(context.Background())
		if err == nil && pendingInbox == 0 && counts[outbox.StatusPending] == 0 && counts[outbox.StatusSending] == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	counts, _ := s.db.Outbox().Counts(context.Background())
	t.Fatalf("outbox did not settle: %v", counts)
}

var linkRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/(checkout|orders)/[A-Za-z0-9_-]+`)

// A signed reply "#BuyNow red x2": one DM with a working link and one public
// reply without personal data; the same event delivered 5 times changes
// nothing.
func TestReplyGetsPrivateLinkAndPublicNudgeOnce(t *testing.T) {
	for _, v := range []string{"2", "1.1"} {
		t.Run("x_api_"+v, func(t *testing.T) { replyGetsLinkAndNudge(t, v) })
	}
}

func replyGetsLinkAndNudge(t *testing.T, apiVersion string) {
	s := startShopVersion(t, storage.DriverSQLite, "", apiVersion)
	sent := time.Now()
	payload := replyTo("1001", 1, "@acme #BuyNow red x2")
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); s.deliver(t, payload) }()
	}
	wg.Wait()
	dms := wait(t, "the DM", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 1) })
	posts := wait(t, "the public reply", func(ctx context.Context) ([]xsim.Post, error) { return s.sim.WaitPosts(ctx, 1) })
	t.Logf("DM after %v, public reply after %v", dms[0].At.Sub(sent).Round(time.Millisecond), posts[0].At.Sub(sent).Round(time.Millisecond))
	s.settle(t)
	dms, posts = s.sim.DMs(), s.sim.Posts()
	if len(dms) != 1 || len(posts) != 1 {
		t.Fatalf("%d DMs and %d posts after 5 deliveries, want 1 and 1", len(dms), len(posts))
	}
	dm, post := dms[0], posts[0]
	if dm.RecipientID != "901" || dm.AuthorToken != testMerchant+"-acme-token" || dm.Version != apiVersion || post.Version != apiVersion {
		t.Fatalf("DM to %s signed by %s through API %s, reply through %s", dm.RecipientID, dm.AuthorToken, dm.Version, post.Version)
	}
	for _, want := range []string{"2 × Signed vinyl (red)", "$50.00"} {
		if !strings.Contains(dm.Text, want) {
			t.Errorf("DM %q lacks %q", dm.Text, want)
		}
	}
	link := linkRE.FindString(dm.Text)
	if link == "" {
		t.Fatalf("DM %q has no checkout link", dm.Text)
	}
	if post.InReplyTo != "5001" || !strings.HasPrefix(post.Text, "@shopper1 ") {
		t.Fatalf("public reply %+v", post)
	}
	secret := link[strings.LastIndex(link, "/")+1:]
	for _, leak := range []string{secret, "http", "$", "50.00"} {
		if strings.Contains(post.Text, leak) {
			t.Errorf("public reply %q carries %q", post.Text, leak)
		}
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Signed vinyl") || !strings.Contains(string(page), "$50.00") {
		t.Fatalf("link page: %d\n%s", resp.StatusCode, page)
	}
	if resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("link page headers %v", resp.Header)
	}
	stored, ok, err := s.db.Outbox().Get(context.Background(), "tweet_create:5001:dm_checkout")
	if err != nil || !ok || strings.Contains(stored.Body, secret) || !strings.Contains(stored.Body, outbox.LinkPlaceholder) {
		t.Fatalf("stored DM %q (found %v, %v): the secret must not be stored", stored.Body, ok, err)
	}
	for _, bad := range []string{link[:len(link)-1] + "x", s.base + "/checkout/short"} {
		r, err := http.Get(bad)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 404 {
			t.Errorf("forged link %s: %d, want 404", bad, r.StatusCode)
		}
	}
}

// 500 buyers at once on a 50-unit drop: 50 holds, 50 DMs, no oversell; the
// others are told it sold out within the rate budget.
func TestDropOf50UnitsFor500Buyers(t *testing.T) {
	for _, d := range []string{storage.DriverSQLite, storage.DriverPostgres} {
		t.Run(d, func(t *testing.T) {
			const buyers, units, budget = 500, 50, 200
			s := startShop(t, d, fmt.Sprintf("outbox: { poll_interval: 50ms, per_account: %d, per_app: 2000 }", budget))
			jobs := make(chan int)
			var wg sync.WaitGroup
			for w := 0; w < 32; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range jobs {
						s.deliver(t, replyTo("1005", i, "#BuyNow"))
					}
				}()
			}
			for i := 1; i <= buyers; i++ {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			s.settle(t)
			dms, posts := s.sim.DMs(), s.sim.Posts()
			winners := map[string]bool{}
			for _, dm := range dms {
				if winners[dm.RecipientID] {
					t.Errorf("two DMs to %s", dm.RecipientID)
				}
				winners[dm.RecipientID] = true
			}
			if len(dms) != units {
				t.Fatalf("%d DMs, want %d", len(dms), units)
			}
			nudges, soldOutReplies, soldOutPosts := 0, 0, 0
			for _, p := range posts {
				switch {
				case strings.Contains(p.Text, "Check your DMs"):
					nudges++
				case strings.HasPrefix(p.Text, "@") && strings.Contains(p.Text, "sold out"):
					soldOutReplies++
				case strings.Contains(p.Text, "sold out"):
					soldOutPosts++
				}
			}
			if nudges != units || len(dms)+len(posts) > budget {
				t.Fatalf("%d nudges (want %d); %d sends in all, budget %d", nudges, units, len(dms)+len(posts), budget)
			}
			if soldOutPosts != 1 && soldOutReplies != buyers-units {
				t.Fatalf("sold out: %d replies and %d posts; want one post (or a reply each)", soldOutReplies, soldOutPosts)
			}
			t.Logf("%d DMs, %d nudges, %d sold-out replies, %d sold-out posts", len(dms), nudges, soldOutReplies, soldOutPosts)
			left, err := s.db.Shop().Remaining(context.Background(), &commerce.Offer{MerchantID: "acme", ID: "drop"})
			if err != nil || left[""] == nil || *left[""] != 0 {
				t.Fatalf("remaining = %v, %v; want 0", left, err)
			}
		})
	}
}

// X answers 429 with a reset 2 s ahead for 10 s: every message arrives
// after the reset, none lost, none twice.
func TestRateLimitedMessagesArriveAfterTheResetOnce(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "")
	const buyers = 10
	stop := time.Now().Add(10 * time.Second)
	var lastReset time.Time
	s.sim.RateLimitUntil(time.Now().Add(2 * time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for time.Now().Before(stop) {
			lastReset = time.Now().Add(2 * time.Second)
			s.sim.RateLimitUntil(lastReset)
			time.Sleep(250 * time.Millisecond)
		}
	}()
	for i := 1; i <= buyers; i++ {
		s.deliver(t, replyTo("1001", i, "#BuyNow black"))
	}
	<-done
	requestsWhileLimited := s.sim.Requests()
	s.settle(t)
	dms, posts := s.sim.DMs(), s.sim.Posts()
	if len(dms) != buyers || len(posts) != buyers {
		t.Fatalf("%d DMs and %d replies, want %d each", len(dms), len(posts), buyers)
	}
	seen := map[string]bool{}
	for _, dm := range dms {
		if seen[dm.RecipientID] {
			t.Fatalf("two DMs to %s", dm.RecipientID)
		}
		seen[dm.RecipientID] = true
		if dm.At.Before(lastReset) {
			t.Fatalf("DM at %v, before the reset at %v", dm.At, lastReset)
		}
	}
	for _, p := range posts {
		if p.At.Before(lastReset) {
			t.Fatalf("reply at %v, before the reset at %v", p.At, lastReset)
		}
	}
	// Without waiting for the reset, 10 messages over 12 s would be
	// hundreds of requests.
	if requestsWhileLimited > 20 {
		t.Fatalf("%d requests to X while it said to wait", requestsWhileLimited)
	}
	t.Logf("%d requests while limited", requestsWhileLimited)
}

// A buyer who takes no DMs gets the public fallback; their DM "buy" then
// gets the link privately.
func TestDMsClosedFallbackThenBuyByDM(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "")
	s.sim.CloseDMs("901", true)
	s.deliver(t, replyTo("1001", 1, "#BuyNow red"))
	posts := wait(t, "the fallback reply", func(ctx context.Context) ([]xsim.Post, error) { return s.sim.WaitPosts(ctx, 1) })
	if !strings.Contains(posts[0].Text, `"buy"`) || strings.Contains(posts[0].Text, "http") {
		t.Fatalf("fallback reply %q", posts[0].Text)
	}
	if n := len(s.sim.DMs()); n != 0 {
		t.Fatalf("%d DMs delivered to a closed inbox", n)
	}
	s.sim.CloseDMs("901", false) // they wrote to us, so we may answer
	s.deliver(t, dmFrom(1, "8001", "buy"))
	dms := wait(t, "the DM", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 1) })
	link := linkRE.FindString(dms[0].Text)
	if dms[0].RecipientID != "901" || link == "" || !strings.Contains(dms[0].Text, "Signed vinyl (red)") {
		t.Fatalf("DM after buy = %+v", dms[0])
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("link after buy: %d", resp.StatusCode)
	}
}

func TestDMCommandsFromTheBinary(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "")
	steps := []struct{ text, want string }{
		{"/help", "#BuyNow"},
		{"cart", "empty"},
		{"stop", "Reminders are off"},
		{"FORGET", "Reply YES"},
		{"yes", "erased"},
		{"banana", "didn't get that"},
	}
	for i, st := range steps {
		s.deliver(t, dmFrom(2, fmt.Sprint(9000+i), st.text))
		dms := wait(t, "answer to "+st.text, func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, i+1) })
		if got := dms[i]; got.RecipientID != "902" || !strings.Contains(got.Text, st.want) {
			t.Fatalf("DM %q answered %q, want it to contain %q", st.text, got.Text, st.want)
		}
	}
}
