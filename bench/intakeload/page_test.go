package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hcconfig "github.com/hashcart/hashcart/config"
)

func TestPageConfigRunsTheShopWithDefaultPolls(t *testing.T) {
	text := pageConfig(pipelineSettings{
		Port: 18600, Driver: "sqlite", DSN: "/tmp/page.db", APIBaseURL: "http://127.0.0.1:18601",
		ConsumerKey: "k", ConsumerSecret: "s", MerchantID: "2244994945", ScreenName: "acme",
	})
	cfg, err := hcconfig.Parse("page.yaml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("hashcart refuses the config: %v\n%s", err, text)
	}
	if cfg.Intake.PollInterval.Duration != 250*time.Millisecond || cfg.Outbox.PollInterval.Duration != 200*time.Millisecond {
		t.Fatalf("intake poll %v, outbox poll %v: want the defaults 250ms and 200ms", cfg.Intake.PollInterval.Duration, cfg.Outbox.PollInterval.Duration)
	}
	if cfg.Checkout.Hold.Duration < 12*time.Minute {
		t.Fatalf("checkout.hold %v: the link would expire during a run", cfg.Checkout.Hold.Duration)
	}
	m, ok := cfg.MerchantByXUserID("2244994945")
	if !ok || len(m.Offers) != 1 || len(m.Offers[0].PostIDs) != 1 || m.Offers[0].PostIDs[0] != pipelinePostID {
		t.Fatalf("merchant %+v: want one offer on post %s", m, pipelinePostID)
	}
}

func TestCheckoutLinkIsTakenOnlyFromTheServer(t *testing.T) {
	const base = "http://127.0.0.1:40000"
	const secret = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ012345-_"
	for _, tc := range []struct {
		name, text, want string
	}{
		{"link in a sentence", "Your Tote bag is held. Check out here: " + base + "/checkout/" + secret + " (15 min)", base + "/checkout/" + secret},
		{"link at the end", "Pay at " + base + "/checkout/" + secret, base + "/checkout/" + secret},
		{"no link", "Sorry, sold out.", ""},
		{"orders link only", "Your orders: " + base + "/orders/" + secret, ""},
		{"another host", "Pay at http://127.0.0.1:9/checkout/" + secret, ""},
		{"another host's link that starts like ours", "Pay at " + base + "0/checkout/" + secret, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkoutLink(tc.text, base+"/")
			if tc.want == "" {
				if err == nil {
					t.Fatalf("took %q from %q", got, tc.text)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestOnlyTheOrderFormForThisLinkPasses(t *testing.T) {
	const secret = "s3cr3t-token-of-forty-characters-or-more-xyz"
	form := `<h1>Check out</h1><form method="post" action="/checkout/` + secret + `" class="card" novalidate>
<input type="hidden" name="csrf" value="ab12">`
	for _, tc := range []struct {
		name   string
		status int
		body   string
		ok     bool
	}{
		{"the form", 200, form, true},
		{"expired hold", 410, "<h1>This hold has ended</h1>", false},
		{"message page with 200", 200, "<h1>Thank you! Order A1 is confirmed</h1>", false},
		{"another link's form", 200, strings.ReplaceAll(form, secret, "other"), false},
		{"form without csrf", 200, strings.ReplaceAll(form, `name="csrf"`, ""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := isCheckoutForm(tc.status, tc.body, secret)
			if (err == nil) != tc.ok {
				t.Fatalf("isCheckoutForm = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestPageSummaryCountsOnlyWindowAndOnly200s(t *testing.T) {
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	l := pageLoad{Concurrency: 2, Warmup: time.Second, Duration: time.Second}
	recs := []record{
		{due: ms(500), sent: ms(500), done: ms(900), status: 200},    // warm-up: not counted
		{due: ms(1000), sent: ms(1000), done: ms(1002), status: 200}, // 2 ms
		{due: ms(1100), sent: ms(1100), done: ms(1104), status: 200}, // 4 ms
		{due: ms(1200), sent: ms(1205), done: ms(1206), status: 200}, // 6 ms from due, 1 from sent
		{due: ms(1300), sent: ms(1300), done: ms(1308), status: 200}, // 8 ms
		{due: ms(1400), sent: ms(1400), done: ms(1401), status: 410}, // counted, not a 200
		{due: ms(1500), sent: ms(1500), done: ms(1600), status: 0},   // transport error
		{due: ms(1999), sent: ms(1999), done: ms(2500), status: 200}, // 501 ms, ends after the window
		{due: ms(2000), sent: ms(2000), done: ms(2001), status: 200}, // after the window
	}
	p := summarizePage(l, recs)
	if p.Mode != "closed" || p.Requests != 7 || p.OK != 5 || p.Errors != 1 || p.Non200[410] != 1 || p.Answered != 8 {
		t.Fatalf("mode %s requests %d ok %d errors %d non200 %v answered %d", p.Mode, p.Requests, p.OK, p.Errors, p.Non200, p.Answered)
	}
	// Latencies 2, 4, 6, 8, 501 ms: nearest rank.
	if p.P50Ms != 6 || p.P90Ms != 501 || p.MaxMs != 501 || p.ServiceP50Ms != 4 {
		t.Fatalf("p50 %.1f p90 %.1f max %.1f service p50 %.1f", p.P50Ms, p.P90Ms, p.MaxMs, p.ServiceP50Ms)
	}
	// 5 OK over the window stretched to the last answer (1.5 s).
	if p.WindowS != 1.5 || p.PerS != 3.3 {
		t.Fatalf("window %.3f s, %.1f/s; want 1.5 s and 3.3/s", p.WindowS, p.PerS)
	}
}

// Under a closed loop every client keeps one GET in flight, and every
// answer that is not a 200 is reported, not counted.
func TestHammerKeepsEveryClientBusyAndReportsNon200(t *testing.T) {
	var inFlight, most, n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		if n.Add(1)%10 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(strings.Repeat("x", 4096)))
	}))
	defer srv.Close()
	l := pageLoad{URL: srv.URL, Concurrency: 8, Warmup: 200 * time.Millisecond, Duration: 500 * time.Millisecond, Timeout: 5 * time.Second}
	c := newClient(loadConfig{Concurrency: l.Concurrency, Timeout: l.Timeout})
	recs, notSent, firstErr := hammer(context.Background(), c, l)
	p := summarizePage(l, recs)
	if most.Load() != 8 {
		t.Fatalf("at most %d requests in flight, want 8", most.Load())
	}
	if p.Requests == 0 || p.Non200[503] == 0 || p.OK+p.Non200[503] != p.Requests || p.Errors != 0 || notSent != 0 || firstErr != "" {
		t.Fatalf("%+v not sent %d first error %q", p, notSent, firstErr)
	}
	if p.P50Ms < 5 {
		t.Fatalf("p50 %.2f ms is less than the server's 5 ms", p.P50Ms)
	}
}

// At a low rate a server stall must show in every GET that was due during
// it, while the service time shows that only one was slow to serve.
func TestHammerOpenLoopCountsFromDueTime(t *testing.T) {
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { time.Sleep(300 * time.Millisecond) }) // the stall under test
	}))
	defer srv.Close()
	l := pageLoad{URL: srv.URL, Concurrency: 1, Rate: 100, Duration: time.Second, Timeout: 5 * time.Second}
	recs, _, _ := hammer(context.Background(), newClient(loadConfig{Concurrency: 1, Timeout: l.Timeout}), l)
	p := summarizePage(l, recs)
	if p.Mode != "open" || p.Requests != 100 || p.OK != 100 {
		t.Fatalf("mode %s, %d requests, %d ok; want open, 100, 100", p.Mode, p.Requests, p.OK)
	}
	// ~30 GETs were due during the stall: p90 is among them.
	if p.P90Ms < 100 || p.SendLagP99Ms < 100 {
		t.Fatalf("p90 %.1f ms, send lag p99 %.1f ms: the stall is hidden", p.P90Ms, p.SendLagP99Ms)
	}
	if p.ServiceP50Ms > 50 {
		t.Fatalf("service p50 %.1f ms: only one GET was slow to serve", p.ServiceP50Ms)
	}
}

func TestPageVerdictJudgesTheChosenFigure(t *testing.T) {
	good := PagePhase{Requests: 100, OK: 100, P99Ms: 40, ServiceP99Ms: 3}
	withErrors := good
	withErrors.OK, withErrors.Non200 = 98, map[int]int{410: 2}
	for _, tc := range []struct {
		name    string
		p       PagePhase
		service bool
		met     bool
		why     string
	}{
		{"service p99 under the limit", good, true, true, "p99 3.00 ms < 5ms"},
		{"client p99 over the limit", good, false, false, "p99 40.00 ms is 35.00 ms over"},
		{"exactly the limit is over", PagePhase{Requests: 1, OK: 1, ServiceP99Ms: 5}, true, false, "is 0.00 ms over"},
		{"non-200 answers", withErrors, true, false, "2 of 100 requests not answered 200"},
		{"nothing answered", PagePhase{Requests: 3}, true, false, "no request answered 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			met, why := pageVerdict(tc.p, tc.service, 5*time.Millisecond)
			if met != tc.met || !strings.Contains(why, tc.why) {
				t.Fatalf("got %v %q, want %v and %q", met, why, tc.met, tc.why)
			}
		})
	}
}

func TestPageTableShowsBothFiguresAndVerdicts(t *testing.T) {
	in := `sqlite: a result line, skipped
{"label":"sqlite","driver":"sqlite","page_bytes":11373,"load":{"mode":"closed","concurrency":200,"requests":4000,"ok":4000,"per_s":400,"p50_ms":450,"p90_ms":800,"p99_ms":1200,"max_ms":1900,"server_cpu_per_request_ms":2.3},"low":{"mode":"open","concurrency":1,"rate":50,"requests":500,"ok":500,"per_s":50,"service_p50_ms":3.1,"service_p99_ms":4.5,"service_max_ms":9}}
`
	var out, errOut bytes.Buffer
	if err := runPageTable(nil, strings.NewReader(in), &out, &errOut); err != nil {
		t.Fatal(err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"| sqlite | under load, client-measured from start | 200 | 400 | 4000 / 4000 | 0, 0 | 450.00 | 800.00 | 1200.00 | 1900.00 | 2.300 |",
		"| sqlite | server time: 50/s, request written → last byte | 1 | 50 | 500 / 500 | 0, 0 | 3.10 | – | 4.50 | 9.00 |",
		"TARGET sqlite checkout page p99 < 5ms, server time (1 client at 50/s, request written -> last byte): p99 4.50 ms < 5ms -> MET",
		"TARGET sqlite checkout page p99 < 5ms at 200 concurrent (client-measured, includes queueing for the shared cores): p99 1200.00 ms is 1195.00 ms over -> MISSED",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func TestServerTimingIsRead(t *testing.T) {
	for _, c := range []struct {
		h, name string
		want    time.Duration
	}{
		{"app;dur=1.250", "app", 1250 * time.Microsecond},
		{"queue;dur=2, app;dur=0.5", "app", 500 * time.Microsecond},
		{"queue;dur=2, app;dur=0.5", "queue", 2 * time.Millisecond},
		{"app;dur=0.5", "queue", 0},
		{"", "app", 0},
		{"app", "app", 0},
	} {
		if got := serverTiming(c.h, c.name); got != c.want {
			t.Errorf("serverTiming(%q, %q) = %v, want %v", c.h, c.name, got, c.want)
		}
	}
}

func TestPageSlotsGoIntoTheServerSection(t *testing.T) {
	cfg := "server:\n  listen: \"127.0.0.1:1\"\nstorage: {}\n"
	if got := withPageSlots(cfg, 0); got != cfg {
		t.Fatalf("0 changed the config:\n%s", got)
	}
	want := "server:\n  page_concurrency: 7\n  listen: \"127.0.0.1:1\"\nstorage: {}\n"
	if got := withPageSlots(cfg, 7); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
