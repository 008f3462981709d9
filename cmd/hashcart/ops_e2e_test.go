package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/xsim"
)

// scrape GETs the metrics page with an optional bearer token.
func scrape(t *testing.T, base, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of the series written exactly as series
// (name{labels} with labels in Prometheus' order), or 0 when absent.
func metric(t *testing.T, page, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(page, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("series %s: %v", series, err)
			}
			return v
		}
	}
	return 0
}

func getStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus polls u until it answers want.
func waitStatus(t *testing.T, u string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := getStatus(t, u)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s = %d, want %d (after %v)", u, got, want, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Deliveries move the intake, inbox, outbox, hold and sold-out counters
// and the signature failure counter; a token keeps the page closed to
// scrapers without it.
func TestMetricsCountersMoveWithDeliveries(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "outbox: { poll_interval: 50ms }\nmetrics: { token: scrape-token }\njobs: { expire_holds: \"@every 1s\" }")
	if code, _ := scrape(t, s.base, ""); code != http.StatusUnauthorized {
		t.Fatalf("metrics without the token: %d, want 401", code)
	}
	if code, _ := scrape(t, s.base, "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("metrics with a wrong token: %d, want 401", code)
	}
	code, before := scrape(t, s.base, "scrape-token")
	if code != 200 {
		t.Fatalf("metrics with the token: %d", code)
	}
	const sticker = `{merchant="acme",offer="sticker"}`
	if !strings.Contains(before, "hashcart_holds_total"+sticker+" 0") {
		t.Fatalf("per-offer series do not start at 0:\n%s", before)
	}
	// Six shoppers claim a sticker (stock 5): five holds, one sold out.
	for user := 1; user <= 6; user++ {
		s.deliver(t, replyTo("1004", user, "@acme #Claim"))
	}
	body := []byte(`{"for_user_id":"2244994945","tweet_create_events":[]}`)
	if got := post(t, s.base+"/webhooks/x", body, "sha256=forged"); got != 401 {
		t.Fatalf("forged delivery: %d", got)
	}
	wait(t, "the DMs", func(ctx context.Context) (int, error) { d, err := s.sim.WaitDMs(ctx, 5); return len(d), err })
	s.settle(t)
	_, after := scrape(t, s.base, "scrape-token")
	checks := []struct {
		series string
		want   float64
	}{
		{`hashcart_intake_events_total{kind="tweet_create",result="stored"}`, 6},
		{`hashcart_inbox_handled_total{kind="tweet_create",result="ok"}`, 6},
		{`hashcart_webhook_signature_failures_total{source="x"}`, 1},
		{"hashcart_holds_total" + sticker, 5},
		{"hashcart_sold_outs_total" + sticker, 1},
		{`hashcart_inbox_pending_events`, 0},
		{`hashcart_database_read_ok`, 1},
	}
	for _, c := range checks {
		if got := metric(t, after, c.series); got != c.want {
			t.Errorf("%s = %v, want %v", c.series, got, c.want)
		}
	}
	if sent := metric(t, after, `hashcart_outbox_sends_total{kind="dm",outcome="sent"}`); sent < 5 {
		t.Errorf("DMs sent = %v, want at least 5", sent)
	}
	for _, name := range []string{`hashcart_outbox_depth{status="pending"}`, "hashcart_inbox_lag_seconds"} {
		if !strings.Contains(after, name) {
			t.Errorf("metrics lack %s", name)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", after)
	}
	// The expiry job runs every second here.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(after, `hashcart_job_duration_seconds_count{job="expire_holds",result="ok"}`) {
		if time.Now().After(deadline) {
			t.Fatalf("no expire_holds job duration after 10s")
		}
		time.Sleep(200 * time.Millisecond)
		_, after = scrape(t, s.base, "scrape-token")
	}
}

// pgProxy forwards TCP to PostgreSQL and can cut every connection and
// refuse new ones, as if the database were stopped, without touching the
// shared server.
type pgProxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *pgProxy {
	p := &pgProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *pgProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *pgProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close(); c.Close() }()
	io.Copy(c, up)
	c.Close()
	up.Close()
}

// cut closes the listener and every connection: new connections are refused.
func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// restore listens again on the same address.
func (p *pgProxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen again: %v", err)
	}
	p.serve(ln)
}

// While PostgreSQL is unreachable /readyz is 503 and deliveries get 503
// (nothing acknowledged); once it is back, /readyz is 200 and every event
// acknowledged before or after is processed exactly once.
func TestReadyzFollowsTheDatabaseAndNothingAckedIsLost(t *testing.T) {
	_, dsn := storagetest.DSN(t, storage.DriverPostgres)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, u.Host)
	u.Host = proxy.addr
	config, base := writeConfig(t, storage.DriverPostgres, u.String(), "")
	start(t, config, base)
	db := openDB(t, storage.DriverPostgres, dsn)
	hook := base + "/webhooks/x"
	if got := getStatus(t, base+"/readyz"); got != 200 {
		t.Fatalf("readyz with the database up = %d", got)
	}
	send := func(from, to int) map[int]int {
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := from + w; i < to; i += 16 {
					body := tweetDelivery(i)
					code := post(t, hook, body, sign(body))
					mu.Lock()
					codes[i] = code
					mu.Unlock()
				}
			}(w)
		}
		wg.Wait()
		return codes
	}
	for i, code := range send(0, 100) {
		if code != 200 {
			t.Fatalf("delivery %d before the cut: %d", i, code)
		}
	}

	proxy.cut()
	waitStatus(t, base+"/readyz", 503, 10*time.Second)
	refused := send(100, 150)
	for i, code := range refused {
		if code != 503 {
			t.Errorf("delivery %d while the database is down: %d, want 503", i, code)
		}
	}
	if got := getStatus(t, base+"/healthz"); got != 200 {
		t.Errorf("healthz while the database is down = %d, want 200 (the process is up)", got)
	}

	proxy.restore()
	waitStatus(t, base+"/readyz", 200, 20*time.Second)
	// X retries what was refused; new deliveries arrive too.
	deadline := time.Now().Add(30 * time.Second)
	for {
		codes := send(100, 200)
		ok := 0
		for _, c := range codes {
			if c == 200 {
				ok++
			}
		}
		if ok == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the database came back, %d of 100 deliveries acknowledged", ok)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitCount(t, db, "status = 'done'", 200, 2*time.Minute)
	if got := count(t, db, "1=1"); got != 200 {
		t.Fatalf("stored %d events, want 200", got)
	}
	if got := count(t, db, "status = 'done' AND attempts = 1"); got != 200 {
		t.Fatalf("processed exactly once = %d, want 200", got)
	}
}

// SIGTERM in the middle of a stream of deliveries: the process stops
// within shutdown_timeout with no outbox message left leased, and after a
// restart every acknowledged event is processed exactly once.
func TestSIGTERMDuringLoadLosesNothing(t *testing.T) {
	for _, d := range []string{storage.DriverSQLite, storage.DriverPostgres} {
		t.Run(d, func(t *testing.T) {
			driver, dsn := storagetest.DSN(t, d)
			config, base := writeConfig(t, driver, dsn, "")
			first := start(t, config, base)
			hook := base + "/webhooks/x"
			var acked sync.Map
			var ackedN atomic.Int64
			var next atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := 0; w < 32; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						i := int(next.Add(1))
						body := tweetDelivery(i)
						req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(string(body)))
						req.Header.Set("x-twitter-webhooks-signature", sign(body))
						resp, err := client.Do(req)
						if err != nil {
							time.Sleep(10 * time.Millisecond) // refused: the server is gone
							continue
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == 200 {
							acked.Store(i, true)
							ackedN.Add(1)
						}
					}
				}()
			}
			for ackedN.Load() < 300 {
				time.Sleep(5 * time.Millisecond)
			}
			termAt := time.Now()
			_ = first.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-first.done:
			case <-time.After(15 * time.Second):
				t.Fatal("hashcart did not exit within 15s of SIGTERM")
			}
			took := time.Since(termAt)
			close(stop)
			wg.Wait()
			const timeout = 5 * time.Second // writeConfig's shutdown_timeout
			if took > timeout+time.Second {
				t.Errorf("exit took %v after SIGTERM, want within shutdown_timeout %v", took, timeout)
			}
			if code := first.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit code %d after SIGTERM, want 0", code)
			}
			if !strings.Contains(first.logs.String(), "stopped") {
				t.Errorf("no 'stopped' line in the logs")
			}
			db := openDB(t, driver, dsn)
			counts, err := db.Outbox().Counts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if counts[outbox.StatusSending] != 0 {
				t.Errorf("%d outbox messages left leased after a graceful stop, want 0", counts[outbox.StatusSending])
			}
			n := int(ackedN.Load())
			stored, doneAtStop := count(t, db, "1=1"), count(t, db, "status = 'done'")
			t.Logf("SIGTERM after %d acknowledgements; stopped in %v; %d stored, %d processed", n, took.Round(time.Millisecond), stored, doneAtStop)
			var missing []string
			acked.Range(func(k, _ any) bool {
				id := fmt.Sprintf("tweet_create:%d", 1900000000000000000+k.(int))
				if count(t, db, "event_id = '"+id+"'") != 1 {
					missing = append(missing, id)
				}
				return len(missing) < 5
			})
			if len(missing) > 0 {
				t.Fatalf("acknowledged events not stored: %v", missing)
			}
			start(t, config, base)
			waitCount(t, db, "status = 'done'", stored, 2*time.Minute)
			if got := count(t, db, "status = 'done' AND attempts = 1"); got != stored {
				t.Fatalf("processed exactly once = %d, want %d", got, stored)
			}
		})
	}
}

// A whole purchase logged at debug level, as JSON: the logs name requests
// by id and never hold a link token, a card number, an address, an email,
// the buyer's name or a secret.
func TestLogsHoldNoTokenCardOrAddress(t *testing.T) {
	sim := xsim.New(xsim.Options{ConsumerKey: "e2e-consumer-key", ConsumerSecret: testSecret})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	api := srv.URL
	drv, dsn := storagetest.DSN(t, storage.DriverSQLite)
	port := freePort(t)
	path := writeShopConfig(t, port, drv, dsn, api, "2", "")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	debug := strings.Replace(string(data), "log: { level: warn }", "log: { level: debug, format: json }", 1)
	if debug == string(data) {
		t.Fatal("writeShopConfig no longer writes log: { level: warn }")
	}
	os.WriteFile(path, []byte(debug), 0o600)
	in := start(t, path, fmt.Sprintf("http://127.0.0.1:%d", port))
	s := &shop{instance: in, sim: sim, db: openDB(t, drv, dsn), driver: drv, dsn: dsn}

	s.deliver(t, replyTo("1001", 1, "#BuyNow red x2"))
	link := s.linkFor(t, 1)
	form := get(t, link)
	toPay := postForm(t, link, shipping(csrfOf(t, form)))
	if toPay.status != 303 {
		t.Fatalf("submit: %d\n%s", toPay.status, toPay.body)
	}
	get(t, toPay.location)
	card := url.Values{"cc-name": {"Ada Lovelace"}, "cc-number": {"4242 4242 4242 4242"}, "cc-exp": {"12 / 30"}, "cc-csc": {"123"}}
	if paid := postForm(t, toPay.location, card); paid.status != 303 {
		t.Fatalf("pay: %d\n%s", paid.status, paid.body)
	}
	get(t, link+"x") // a wrong token is logged too, as a 404
	// A request id given by a proxy is kept and echoed; a bad one replaced.
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	req.Header.Set("X-Request-Id", "proxy-req-42")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "proxy-req-42" {
		t.Errorf("X-Request-Id echoed = %q, want proxy-req-42", got)
	}
	req.Header.Set("X-Request-Id", "bad id with spaces")
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Errorf("X-Request-Id for a bad incoming id = %q, want a fresh one", got)
	}
	wait(t, "the confirmation DM", func(ctx context.Context) (int, error) { d, err := s.sim.WaitDMs(ctx, 2); return len(d), err })
	s.settle(t)
	// The purchase is a sale in the metrics too.
	if _, page := scrape(t, s.base, ""); metric(t, page, `hashcart_sales_total{merchant="acme",offer="signed-vinyl"}`) != 1 ||
		metric(t, page, `hashcart_holds_total{merchant="acme",offer="signed-vinyl"}`) != 1 {
		t.Errorf("one purchase: want 1 hold and 1 sale of signed-vinyl in the metrics")
	}
	in.stop(syscall.SIGTERM)

	logs := in.logs.String()
	if !strings.Contains(logs, `"request_id":"proxy-req-42"`) {
		t.Errorf("the given request id is not in the logs")
	}
	if !regexp.MustCompile(`"route":"/checkout/:token"`).MatchString(logs) {
		t.Errorf("request lines do not name the route pattern")
	}
	token := func(u string) string { return u[strings.LastIndex(u, "/")+1:] }
	payToken := strings.Split(strings.TrimPrefix(toPay.location, s.base), "/")
	secrets := []string{
		token(link), "4242424242424242", "4242 4242 4242 4242", "Kent Avenue", "221 Kent", "ada@example.com", "Ada Lovelace",
		testSecret, testMerchant + "-acme-token", "acme-secret", "whsec_e2e",
	}
	for _, part := range payToken {
		if len(part) >= 16 {
			secrets = append(secrets, part)
		}
	}
	lines := strings.Count(logs, "\n")
	for _, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold %q", secret)
		}
	}
	if lines < 10 {
		t.Errorf("only %d log lines at debug level; the scan proves little", lines)
	}
	t.Logf("scanned %d log lines for %d secrets", lines, len(secrets))
}
