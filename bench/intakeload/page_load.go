package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// pageLoad says how one phase of a checkout page run sends its GETs.
type pageLoad struct {
	URL string
	// Concurrency is the number of clients (keep-alive connections): the
	// requests in flight at most.
	Concurrency int
	// Rate is requests per second on an open-loop schedule; 0 is a closed
	// loop where each client sends its next request as soon as the
	// previous one is answered.
	Rate     float64
	Warmup   time.Duration
	Duration time.Duration
	// Timeout bounds one request, and how long after the window the
	// phase waits for requests still queued or in flight.
	Timeout time.Duration
}

// PagePhase is the summary of one phase over its measurement window.
// Latencies are in milliseconds.
type PagePhase struct {
	Mode        string  `json:"mode"` // "closed" or "open"
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate,omitempty"`
	WindowS     float64 `json:"window_s"`
	// Requests were due (open loop) or started (closed loop) in the
	// window; OK of them were answered 200.
	Requests int `json:"requests"`
	OK       int `json:"ok"`
	// PerS is OK divided by the time from the window's start to the last
	// of their answers (at least the window).
	PerS float64 `json:"per_s"`
	// P50Ms..MaxMs: latency of the 200s from when each request was due
	// (open loop: a late client or a stalled server is not hidden) or
	// started (closed loop), to the last byte of the answer.
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// ServiceP50Ms..ServiceMaxMs are measured from when the client wrote
	// the request; SendLagP99Ms is how late it wrote them (open loop).
	ServiceP50Ms float64 `json:"service_p50_ms"`
	ServiceP99Ms float64 `json:"service_p99_ms"`
	ServiceMaxMs float64 `json:"service_max_ms"`
	// ServerP50Ms..ServerMaxMs are the server's own time per request, as
	// it reported in Server-Timing: the render time without the queueing
	// in front of it.
	ServerP50Ms float64 `json:"server_p50_ms"`
	ServerP99Ms float64 `json:"server_p99_ms"`
	ServerMaxMs float64 `json:"server_max_ms"`
	// QueueP50Ms..QueueMaxMs are how long requests waited for a render
	// slot (Server-Timing queue;dur=), which app;dur= does not include;
	// zero when the server reports no wait.
	QueueP50Ms   float64 `json:"queue_p50_ms,omitempty"`
	QueueP99Ms   float64 `json:"queue_p99_ms,omitempty"`
	QueueMaxMs   float64 `json:"queue_max_ms,omitempty"`
	SendLagP99Ms float64 `json:"send_lag_p99_ms,omitempty"`
	// Non200 counts other answers by status, Errors transport errors and
	// timeouts, NotSent requests dropped because the phase's time ran out.
	Non200     map[int]int `json:"non200,omitempty"`
	Errors     int         `json:"errors"`
	NotSent    int64       `json:"not_sent,omitempty"`
	FirstError string      `json:"first_error,omitempty"`
	// ServerCPUS is the hashcart process's CPU time over the whole phase
	// (warm-up included); ServerCPUPerReqMs divides it by every request
	// answered in the phase.
	ServerCPUS        float64 `json:"server_cpu_s"`
	ServerCPUPerReqMs float64 `json:"server_cpu_per_request_ms"`
	// Answered is every request answered in the phase, warm-up included.
	Answered int `json:"answered"`
}

// hammer sends GETs to l.URL with client for l.Warmup + l.Duration and
// returns one record per request (status 0 for a transport error), with
// times as offsets from the phase's start, and how many open-loop
// requests were dropped unsent. Every answer's body is read to the end.
// It returns by itself at most l.Timeout after the window.
func hammer(ctx context.Context, client *http.Client, l pageLoad) ([]record, int64, string) {
	start := time.Now()
	since := func() time.Duration { return time.Since(start) }
	windowEnd := l.Warmup + l.Duration
	hardStop := windowEnd + l.Timeout
	ctx, cancel := context.WithTimeout(ctx, hardStop+time.Second)
	defer cancel()

	var firstErr atomic.Value
	get := func(due time.Duration) record {
		r := record{due: due, sent: since()}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.URL, nil)
		if err == nil {
			var resp *http.Response
			resp, err = client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				r.status = resp.StatusCode
				st := resp.Header.Get("Server-Timing")
				r.server, r.queue = serverTiming(st, "app"), serverTiming(st, "queue")
			}
		}
		r.done = since()
		if err != nil {
			r.status = 0
			firstErr.CompareAndSwap(nil, err.Error())
		}
		return r
	}

	perClient := make([][]record, l.Concurrency)
	var skipped atomic.Int64
	var wg sync.WaitGroup
	if l.Rate <= 0 {
		for w := range l.Concurrency {
			wg.Go(func() {
				for ctx.Err() == nil {
					now := since()
					if now >= windowEnd {
						return
					}
					perClient[w] = append(perClient[w], get(now))
				}
			})
		}
	} else {
		jobs := make(chan time.Duration, 4096)
		for w := range l.Concurrency {
			wg.Go(func() {
				for due := range jobs {
					if ctx.Err() != nil || since() >= hardStop {
						skipped.Add(1)
						continue
					}
					perClient[w] = append(perClient[w], get(due))
				}
			})
		}
		timer := time.NewTimer(0)
		<-timer.C
	schedule:
		for i := 0; ; i++ {
			due := time.Duration(float64(i) * float64(time.Second) / l.Rate)
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
		close(jobs)
	}
	wg.Wait()
	var all []record
	for _, rs := range perClient {
		all = append(all, rs...)
	}
	s, _ := firstErr.Load().(string)
	return all, skipped.Load(), s
}

// summarizePage reduces the records of a phase to the requests due or
// started in [l.Warmup, l.Warmup+l.Duration).
func summarizePage(l pageLoad, all []record) PagePhase {
	p := PagePhase{Mode: "closed", Concurrency: l.Concurrency, Rate: l.Rate}
	if l.Rate > 0 {
		p.Mode = "open"
	}
	windowStart, windowEnd := l.Warmup, l.Warmup+l.Duration
	var lat, service, lag, server, queue []time.Duration
	last := windowEnd
	for _, r := range all {
		if r.status != 0 {
			p.Answered++
		}
		if r.due < windowStart || r.due >= windowEnd {
			continue
		}
		p.Requests++
		switch r.status {
		case http.StatusOK:
			p.OK++
			lat = append(lat, r.done-r.due)
			service = append(service, r.done-r.sent)
			lag = append(lag, r.sent-r.due)
			if r.server > 0 {
				server = append(server, r.server)
			}
			queue = append(queue, r.queue)
			last = max(last, r.done)
		case 0:
			p.Errors++
		default:
			if p.Non200 == nil {
				p.Non200 = map[int]int{}
			}
			p.Non200[r.status]++
		}
	}
	elapsed := last - windowStart
	p.WindowS = round(elapsed.Seconds(), 3)
	if elapsed > 0 {
		p.PerS = round(float64(p.OK)/elapsed.Seconds(), 1)
	}
	for _, s := range [][]time.Duration{lat, service, lag, server, queue} {
		slices.Sort(s)
	}
	if len(queue) > 0 && queue[len(queue)-1] > 0 {
		p.QueueP50Ms = ms(percentile(queue, 0.50))
		p.QueueP99Ms = ms(percentile(queue, 0.99))
		p.QueueMaxMs = ms(percentile(queue, 1))
	}
	p.ServerP50Ms = ms(percentile(server, 0.50))
	p.ServerP99Ms = ms(percentile(server, 0.99))
	p.ServerMaxMs = ms(percentile(server, 1))
	p.P50Ms = ms(percentile(lat, 0.50))
	p.P90Ms = ms(percentile(lat, 0.90))
	p.P99Ms = ms(percentile(lat, 0.99))
	p.MaxMs = ms(percentile(lat, 1))
	p.ServiceP50Ms = ms(percentile(service, 0.50))
	p.ServiceP99Ms = ms(percentile(service, 0.99))
	p.ServiceMaxMs = ms(percentile(service, 1))
	if l.Rate > 0 {
		p.SendLagP99Ms = ms(percentile(lag, 0.99))
	}
	return p
}

// serverTiming reads the named metric's duration ("app;dur=1.234",
// milliseconds) from a Server-Timing header; 0 when it is absent.
func serverTiming(h, name string) time.Duration {
	for _, metric := range strings.Split(h, ",") {
		parts := strings.Split(metric, ";")
		if strings.TrimSpace(parts[0]) != name {
			continue
		}
		for _, part := range parts[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "dur="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					return time.Duration(f * float64(time.Millisecond))
				}
			}
		}
	}
	return 0
}
