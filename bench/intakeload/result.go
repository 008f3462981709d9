package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Result is the summary of one load run over its measurement window.
// Latencies are in milliseconds.
type Result struct {
	Label       string  `json:"label"`
	URL         string  `json:"url"`
	Mode        string  `json:"mode"` // "closed" (as fast as possible) or "open" (fixed rate)
	Concurrency int     `json:"concurrency"`
	TargetRate  float64 `json:"target_events_per_s,omitempty"`
	PerDelivery int     `json:"events_per_delivery"`
	WindowS     float64 `json:"window_s"`
	// Deliveries is how many deliveries were due/started in the window;
	// OKDeliveries how many of them were answered 200.
	Deliveries   int `json:"deliveries"`
	OKDeliveries int `json:"ok_deliveries"`
	// EventsPerS is events acknowledged with 200 divided by the time from
	// the window's start to the last of those acknowledgements (at least
	// the window).
	EventsPerS float64 `json:"events_per_s"`
	// P50Ms..MaxMs: acknowledgement latency of the 200s, from when each
	// delivery was due (open loop, so a stalled server is not hidden by
	// the client waiting) or started (closed loop).
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// ServiceP99Ms is the p99 from when the request was actually written;
	// SendLagP99Ms the p99 of how late the client wrote requests after
	// they were due (load generator or timer lag; open loop only).
	ServiceP99Ms float64 `json:"service_p99_ms"`
	SendLagP99Ms float64 `json:"send_lag_p99_ms"`
	// Non200 counts answers other than 200 by status; Errors counts
	// transport errors and timeouts; NotSent counts deliveries dropped
	// because the run's time ran out before a sender was free.
	// ClientCPUS is the CPU time (user + system) this load generator used
	// for the whole run, warm-up included: its share of the machine.
	ClientCPUS float64     `json:"client_cpu_s"`
	Non200     map[int]int `json:"non200,omitempty"`
	Errors     int         `json:"errors"`
	NotSent    int64       `json:"not_sent,omitempty"`
	FirstError string      `json:"first_error,omitempty"`
}

func summarize(c loadConfig, all []record, windowStart, windowEnd time.Duration) Result {
	res := Result{
		Label:       c.Label,
		URL:         c.URL,
		Mode:        c.mode(),
		Concurrency: c.Concurrency,
		TargetRate:  c.Rate,
		PerDelivery: c.EventsPerDelivery,
	}
	var lat, service, lag []time.Duration
	last := windowEnd
	for _, r := range all {
		if r.due < windowStart || r.due >= windowEnd {
			continue
		}
		res.Deliveries++
		switch r.status {
		case 200:
			res.OKDeliveries++
			lat = append(lat, r.done-r.due)
			service = append(service, r.done-r.sent)
			lag = append(lag, r.sent-r.due)
			last = max(last, r.done)
		case 0:
			res.Errors++
		default:
			if res.Non200 == nil {
				res.Non200 = map[int]int{}
			}
			res.Non200[r.status]++
		}
	}
	elapsed := last - windowStart
	res.WindowS = round(elapsed.Seconds(), 3)
	if elapsed > 0 {
		res.EventsPerS = round(float64(res.OKDeliveries*c.EventsPerDelivery)/elapsed.Seconds(), 1)
	}
	slices.Sort(lat)
	slices.Sort(service)
	slices.Sort(lag)
	res.P50Ms = ms(percentile(lat, 0.50))
	res.P90Ms = ms(percentile(lat, 0.90))
	res.P99Ms = ms(percentile(lat, 0.99))
	res.MaxMs = ms(percentile(lat, 1))
	res.ServiceP99Ms = ms(percentile(service, 0.99))
	if c.Rate > 0 {
		res.SendLagP99Ms = ms(percentile(lag, 0.99))
	}
	return res
}

// percentile is the nearest-rank p-quantile of sorted (0 when empty).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// Line is the result as one human-readable line.
func (r Result) Line() string {
	rate := "max"
	if r.TargetRate > 0 {
		rate = fmt.Sprintf("%.0f/s", r.TargetRate)
	}
	return fmt.Sprintf("%s: mode=%s rate=%s conc=%d events/s=%.0f p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms ok=%d/%d non200=%s errors=%d%s",
		r.Label, r.Mode, rate, r.Concurrency, r.EventsPerS, r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs,
		r.OKDeliveries, r.Deliveries, r.non200String(), r.Errors, r.extra())
}

func (r Result) extra() string {
	var b strings.Builder
	if r.Mode == "open" {
		fmt.Fprintf(&b, " send_lag_p99=%.2fms service_p99=%.2fms", r.SendLagP99Ms, r.ServiceP99Ms)
	}
	fmt.Fprintf(&b, " client_cpu=%.1fs", r.ClientCPUS)
	if r.NotSent > 0 {
		fmt.Fprintf(&b, " not_sent=%d", r.NotSent)
	}
	if r.FirstError != "" {
		fmt.Fprintf(&b, " first_error=%q", r.FirstError)
	}
	return b.String()
}

func (r Result) non200String() string {
	if len(r.Non200) == 0 {
		return "0"
	}
	codes := make([]int, 0, len(r.Non200))
	for c := range r.Non200 {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%d:%d", c, r.Non200[c])
	}
	return strings.Join(parts, ",")
}
