package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func startBare(t *testing.T, secret string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := newBareApp(secret, "/webhooks/x", 64*1024)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return "http://" + ln.Addr().String() + "/webhooks/x"
}

func config(url, secret string) loadConfig {
	c := loadConfig{URL: url, Secret: secret, ForUserID: "1", Concurrency: 4, EventsPerDelivery: 1,
		Duration: 300 * time.Millisecond, Timeout: 5 * time.Second}
	if err := c.check(); err != nil {
		panic(err)
	}
	return c
}

func TestLoadCountsOnlyAcknowledgedEvents(t *testing.T) {
	url := startBare(t, "right")
	cases := []struct {
		name    string
		secret  string
		perBody int
		wantOK  bool
	}{
		{"signed right, 1 event a delivery", "right", 1, true},
		{"signed right, 5 events a delivery", "right", 5, true},
		{"signed wrong", "wrong", 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := config(url, c.secret)
			cfg.EventsPerDelivery = c.perBody
			res, err := measure(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Deliveries == 0 {
				t.Fatal("nothing sent")
			}
			if c.wantOK {
				if res.OKDeliveries != res.Deliveries || res.Errors != 0 || len(res.Non200) != 0 {
					t.Fatalf("ok %d of %d, errors %d, non-200 %v", res.OKDeliveries, res.Deliveries, res.Errors, res.Non200)
				}
				want := float64(res.OKDeliveries*c.perBody) / res.WindowS
				if res.EventsPerS < 0.99*want || res.EventsPerS > 1.01*want {
					t.Fatalf("events/s %.0f, want %.0f (%d deliveries of %d in %.3fs)", res.EventsPerS, want, res.OKDeliveries, c.perBody, res.WindowS)
				}
				if res.P50Ms <= 0 || res.P50Ms > res.P99Ms || res.P99Ms > res.MaxMs {
					t.Fatalf("percentiles out of order: p50 %v p99 %v max %v", res.P50Ms, res.P99Ms, res.MaxMs)
				}
				return
			}
			if res.OKDeliveries != 0 || res.EventsPerS != 0 || res.Non200[401] != res.Deliveries {
				t.Fatalf("refused deliveries counted: ok %d, events/s %v, non-200 %v of %d", res.OKDeliveries, res.EventsPerS, res.Non200, res.Deliveries)
			}
		})
	}
}

func TestLoadKeepsRateAndStopsByItself(t *testing.T) {
	url := startBare(t, "s")
	cfg := config(url, "s")
	cfg.Rate = 500
	cfg.Duration = time.Second
	cfg.Warmup = 200 * time.Millisecond
	began := time.Now()
	res, err := measure(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("run took %v for a 1.2s load", took)
	}
	// Exactly the deliveries due in the window are measured: 500 in 1s.
	if res.Deliveries != 500 || res.OKDeliveries != 500 {
		t.Fatalf("%d deliveries (%d ok) in the window, want 500", res.Deliveries, res.OKDeliveries)
	}
	if res.EventsPerS < 450 || res.EventsPerS > 501 {
		t.Fatalf("events/s %.0f, want about 500", res.EventsPerS)
	}
}

// A server that stalls must show in the open-loop latency of every delivery
// that was due during the stall, not only the one it stalled on.
func TestOpenLoopLatencyCountsFromDueTime(t *testing.T) {
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		once.Do(func() { time.Sleep(300 * time.Millisecond) }) // the stall under test
	}))
	defer srv.Close()
	cfg := config(srv.URL+"/webhooks/x", "s")
	cfg.Concurrency = 1
	cfg.Rate = 200
	cfg.Duration = time.Second
	res, err := measure(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// ~60 of 200 deliveries were due during the 300ms stall; the 90th
	// percentile is among them, about 200ms late.
	if res.P90Ms < 100 {
		t.Fatalf("p90 %.1fms: the stall is hidden (coordinated omission)", res.P90Ms)
	}
	if res.ServiceP99Ms > 100 {
		t.Fatalf("service p99 %.1fms: only one request was slow to serve", res.ServiceP99Ms)
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, ms(i))
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 0.99, 0},
		{"one value", []time.Duration{ms(3)}, 0.5, ms(3)},
		{"median of 1..100", hundred, 0.50, ms(50)},
		{"p99 of 1..100", hundred, 0.99, ms(99)},
		{"max of 1..100", hundred, 1, ms(100)},
		{"p99 of 1..10 is the max", hundred[:10], 0.99, ms(10)},
	}
	for _, c := range cases {
		if got := percentile(c.sorted, c.p); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestOnlyLoopbackTargets(t *testing.T) {
	cases := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/webhooks/x", true},
		{"http://[::1]:8080/webhooks/x", true},
		{"http://localhost:8080/webhooks/x", false},
		{"http://10.0.0.5:8080/webhooks/x", false},
		{"https://127.0.0.1:8080/webhooks/x", false},
		{"http://127.0.0.1/webhooks/x", false},
	}
	for _, c := range cases {
		if err := loopbackURL(c.url); (err == nil) != c.ok {
			t.Errorf("%s: err %v, want accepted=%v", c.url, err, c.ok)
		}
	}
}
