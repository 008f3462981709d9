package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loadConfig says what a load run sends, where, and for how long.
type loadConfig struct {
	URL       string
	Secret    string
	ForUserID string
	// RunID is 6 digits put in every event id, so runs do not collide.
	RunID string
	Label string
	// Concurrency is the number of senders (and connections): the
	// deliveries in flight at most.
	Concurrency int
	// Rate is deliveries' events per second on an open-loop schedule; 0
	// sends as fast as the senders can (closed loop).
	Rate              float64
	EventsPerDelivery int
	// Warmup is load sent before the measurement window and not counted.
	Warmup   time.Duration
	Duration time.Duration
	// Timeout bounds one request, and how long after the window the run
	// waits for deliveries still queued or in flight.
	Timeout time.Duration
}

// record is one delivery: when it was due (open loop) or started (closed
// loop), when it was written, when its answer came, all as offsets from the
// run's start; and its status (0 for a transport error).
type record struct {
	due, sent, done time.Duration
	status          int
	// server is the time the server reported in Server-Timing (app;dur=),
	// queue its wait for a render slot (queue;dur=), not included in server.
	server, queue time.Duration
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c loadConfig
	fs.StringVar(&c.URL, "url", "", "webhook URL on a loopback address, e.g. http://127.0.0.1:8080/webhooks/x (required)")
	fs.StringVar(&c.Secret, "secret", "", "consumer secret to sign deliveries with (required)")
	fs.StringVar(&c.ForUserID, "for-user-id", "2244994945", "for_user_id of every delivery: a configured merchant's x_user_id")
	fs.StringVar(&c.RunID, "run-id", "", "6 digits put in every event id (default random)")
	fs.StringVar(&c.Label, "label", "", "name of this run in the result (default the mode)")
	fs.IntVar(&c.Concurrency, "concurrency", 64, "senders, i.e. deliveries in flight at most")
	fs.Float64Var(&c.Rate, "rate", 0, "events per second on an open-loop schedule; 0 = as fast as possible")
	fs.IntVar(&c.EventsPerDelivery, "events-per-delivery", 1, "tweet_create events in each delivery")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "load sent first and not measured")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measurement window")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout, and the longest wait for stragglers after the window")
	asJSON := fs.Bool("json", false, "also print the result as one JSON line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	res, err := measure(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Line())
	if *asJSON {
		b, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		fmt.Fprintln(stdout, string(b))
	}
	if res.OKDeliveries == 0 {
		return fmt.Errorf("no delivery was acknowledged with 200 (%d errors, non-200 %v, first error %q)", res.Errors, res.Non200, res.FirstError)
	}
	return nil
}

func (c *loadConfig) check() error {
	if c.Secret == "" {
		return fmt.Errorf("%w: --secret is required", errUsage)
	}
	if err := loopbackURL(c.URL); err != nil {
		return err
	}
	if c.ForUserID == "" {
		return fmt.Errorf("%w: --for-user-id is required", errUsage)
	}
	switch {
	case c.Concurrency < 1 || c.Concurrency > 4096:
		return fmt.Errorf("%w: --concurrency must be 1..4096", errUsage)
	case c.Rate < 0 || c.Rate > 1e6:
		return fmt.Errorf("%w: --rate must be 0..1000000", errUsage)
	case c.EventsPerDelivery < 1 || c.EventsPerDelivery > 100:
		return fmt.Errorf("%w: --events-per-delivery must be 1..100", errUsage)
	case c.Duration <= 0 || c.Duration > 10*time.Minute:
		return fmt.Errorf("%w: --duration must be more than 0 and at most 10m", errUsage)
	case c.Warmup < 0 || c.Warmup > time.Minute:
		return fmt.Errorf("%w: --warmup must be 0..1m", errUsage)
	case c.Timeout <= 0 || c.Timeout > time.Minute:
		return fmt.Errorf("%w: --timeout must be more than 0 and at most 1m", errUsage)
	}
	if c.RunID == "" {
		n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
		if err != nil {
			return fmt.Errorf("run id: %w", err)
		}
		c.RunID = fmt.Sprintf("%06d", n.Int64())
	}
	if len(c.RunID) != 6 || !allDigits(c.RunID) {
		return fmt.Errorf("%w: --run-id must be 6 digits", errUsage)
	}
	if c.Label == "" {
		c.Label = c.mode()
	}
	return nil
}

// processCPU is the user + system CPU time this process has used (0 when
// the platform cannot tell).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (c loadConfig) mode() string {
	if c.Rate > 0 {
		return "open"
	}
	return "closed"
}

// newClient returns an HTTP/1.1 keep-alive client that keeps one idle
// connection per sender.
func newClient(c loadConfig) *http.Client {
	return &http.Client{
		Timeout: c.Timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        c.Concurrency * 2,
			MaxIdleConnsPerHost: c.Concurrency * 2,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// measure runs the load and summarizes the deliveries that were due (open
// loop) or started (closed loop) inside the measurement window. It returns
// by itself at most Timeout after the window ends.
func measure(ctx context.Context, c loadConfig) (Result, error) {
	client := newClient(c)
	defer client.CloseIdleConnections()
	start := time.Now()
	since := func() time.Duration { return time.Since(start) }
	windowStart := c.Warmup
	windowEnd := c.Warmup + c.Duration
	hardStop := windowEnd + c.Timeout
	ctx, cancel := context.WithTimeout(ctx, hardStop+time.Second)
	defer cancel()

	var seq atomic.Uint64
	perWorker := make([][]record, c.Concurrency)
	var firstErr atomic.Value
	send := func(d *deliveries, due time.Duration) record {
		body, sig := d.build(seq.Add(1) - 1)
		r := record{due: due, sent: since()}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(signatureHeader, sig)
			var resp *http.Response
			resp, err = client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				r.status = resp.StatusCode
			}
		}
		r.done = since()
		if err != nil {
			r.status = 0
			firstErr.CompareAndSwap(nil, err.Error())
		}
		return r
	}

	var wg sync.WaitGroup
	var skipped atomic.Int64
	if c.Rate <= 0 {
		for w := range c.Concurrency {
			wg.Go(func() {
				d := newDeliveries(c.Secret, c.RunID, c.ForUserID, c.EventsPerDelivery)
				for ctx.Err() == nil {
					now := since()
					if now >= windowEnd {
						return
					}
					perWorker[w] = append(perWorker[w], send(d, now))
				}
			})
		}
	} else {
		jobs := make(chan time.Duration, 4096)
		for w := range c.Concurrency {
			wg.Go(func() {
				d := newDeliveries(c.Secret, c.RunID, c.ForUserID, c.EventsPerDelivery)
				for due := range jobs {
					if ctx.Err() != nil || since() >= hardStop {
						skipped.Add(1)
						continue
					}
					perWorker[w] = append(perWorker[w], send(d, due))
				}
			})
		}
		// Open loop: delivery i is due at i/deliveriesPerSecond whatever
		// happened to earlier ones; latency is counted from when it was due.
		perSecond := c.Rate / float64(c.EventsPerDelivery)
		timer := time.NewTimer(0)
	schedule:
		for i := 0; ; i++ {
			due := time.Duration(float64(i) * float64(time.Second) / perSecond)
			if due >= windowEnd {
				break
			}
			if wait := due - since(); wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					break schedule
				case <-timer.C:
				}
			}
			select {
			case jobs <- due:
			case <-ctx.Done():
				break schedule
			}
		}
		timer.Stop()
		close(jobs)
	}
	wg.Wait()

	var all []record
	for _, rs := range perWorker {
		all = append(all, rs...)
	}
	res := summarize(c, all, windowStart, windowEnd)
	res.NotSent = skipped.Load()
	res.ClientCPUS = round(processCPU().Seconds(), 2)
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	if err := context.Cause(ctx); err != nil && res.OKDeliveries == 0 {
		return res, fmt.Errorf("load stopped: %w", err)
	}
	return res, nil
}
