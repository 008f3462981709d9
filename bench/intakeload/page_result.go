package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// PageResult is one checkout page run: the page under concurrent load and,
// when it ran, at a low rate. Latencies are in milliseconds.
type PageResult struct {
	Label     string  `json:"label"`
	Driver    string  `json:"driver"`
	PageBytes int     `json:"page_bytes"`
	TargetMs  float64 `json:"target_ms"`
	// Load: closed loop, Concurrency clients; latency as the client sees
	// it, which on a shared machine includes queueing on the client too.
	Load PagePhase `json:"load"`
	// Low: one client on an open-loop schedule at a low rate, where
	// neither side queues; its service time (request written to last
	// byte read) is the closest figure to the server's own time.
	Low *PagePhase `json:"low,omitempty"`
	// ServerIdleCPUPct is the server's CPU use with no requests (its
	// pollers and jobs), over 2 s before the load, in % of one core.
	ServerIdleCPUPct float64 `json:"server_idle_cpu_pct"`
	ClientCPUS       float64 `json:"client_cpu_s"`
	LoadAvgBefore    string  `json:"loadavg_before"`
	LoadAvgAfterLoad string  `json:"loadavg_after_load"`
	LoadAvgAfter     string  `json:"loadavg_after"`
}

// pageVerdict judges one phase against limit: every request in the window
// answered 200 and the chosen p99 under limit. service picks the p99 from
// when the request was written instead of from when it was due/started.
func pageVerdict(p PagePhase, service bool, limit time.Duration) (bool, string) {
	p99 := p.P99Ms
	if service {
		p99 = p.ServiceP99Ms
	}
	limitMs := ms(limit)
	var why []string
	if p.OK == 0 {
		why = append(why, "no request answered 200")
	}
	if failed := p.Requests - p.OK; failed > 0 {
		why = append(why, fmt.Sprintf("%d of %d requests not answered 200", failed, p.Requests))
	}
	if p.NotSent > 0 {
		why = append(why, fmt.Sprintf("%d requests not sent", p.NotSent))
	}
	if p99 >= limitMs {
		why = append(why, fmt.Sprintf("p99 %.2f ms is %.2f ms over", p99, p99-limitMs))
	}
	if len(why) == 0 {
		return true, fmt.Sprintf("p99 %.2f ms < %s", p99, limit)
	}
	return false, strings.Join(why, "; ")
}

// Verdicts returns the two judgements of a run, each as one line: the
// server's own time (low-rate phase, service time), and the latency at
// the load phase's concurrency as the client measured it.
func (r PageResult) Verdicts(limit time.Duration) []string {
	var out []string
	if r.Low != nil {
		met, why := pageVerdict(*r.Low, true, limit)
		out = append(out, fmt.Sprintf("TARGET %s checkout page p99 < %s, server time (1 client at %.0f/s, request written -> last byte): %s -> %s",
			r.Label, limit, r.Low.Rate, why, verdict(met)))
	}
	met, why := pageVerdict(r.Load, false, limit)
	out = append(out, fmt.Sprintf("TARGET %s checkout page p99 < %s at %d concurrent (client-measured, includes queueing for the shared cores): %s -> %s",
		r.Label, limit, r.Load.Concurrency, why, verdict(met)))
	if r.Load.ServerP99Ms > 0 {
		met := r.Load.ServerP99Ms < float64(limit)/float64(time.Millisecond)
		wait := ""
		if r.Load.QueueP99Ms > 0 {
			wait = fmt.Sprintf("; before that, waiting for a render slot: p99 %.2f ms (p50 %.2f), not counted here", r.Load.QueueP99Ms, r.Load.QueueP50Ms)
		}
		out = append(out, fmt.Sprintf("TARGET %s checkout page render p99 < %s server-side at %d concurrent (Server-Timing app: the server's time on the request once admitted): p99 %.2f ms (p50 %.2f)%s -> %s",
			r.Label, limit, r.Load.Concurrency, r.Load.ServerP99Ms, r.Load.ServerP50Ms, wait, verdict(met)))
	}
	return out
}

// Lines is the result as human-readable lines, verdicts last.
func (r PageResult) Lines(limit time.Duration) []string {
	out := []string{fmt.Sprintf("%s: page %d bytes; load: %s", r.Label, r.PageBytes, r.Load.line())}
	if r.Low != nil {
		out = append(out, fmt.Sprintf("%s: low rate: %s", r.Label, r.Low.line()))
	}
	out = append(out, fmt.Sprintf("  load average before %s, after the load phase %s, at the end %s; client CPU %.1f s; idle server CPU %.1f%% of a core",
		r.LoadAvgBefore, r.LoadAvgAfterLoad, r.LoadAvgAfter, r.ClientCPUS, r.ServerIdleCPUPct))
	return append(out, r.Verdicts(limit)...)
}

func (p PagePhase) line() string {
	rate := "closed loop"
	if p.Rate > 0 {
		rate = fmt.Sprintf("%.0f/s open loop", p.Rate)
	}
	s := fmt.Sprintf("%d clients %s, %.0f req/s, ok %d/%d non200=%s errors=%d; from start p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms; service p50=%.2fms p99=%.2fms max=%.2fms; server CPU %.2f s = %.3f ms/request",
		p.Concurrency, rate, p.PerS, p.OK, p.Requests, non200String(p.Non200), p.Errors,
		p.P50Ms, p.P90Ms, p.P99Ms, p.MaxMs, p.ServiceP50Ms, p.ServiceP99Ms, p.ServiceMaxMs, p.ServerCPUS, p.ServerCPUPerReqMs)
	if p.Rate > 0 {
		s += fmt.Sprintf(" send_lag_p99=%.2fms", p.SendLagP99Ms)
	}
	if p.NotSent > 0 {
		s += fmt.Sprintf(" not_sent=%d", p.NotSent)
	}
	if p.FirstError != "" {
		s += fmt.Sprintf(" first_error=%q", p.FirstError)
	}
	return s
}

func non200String(m map[int]int) string { return Result{Non200: m}.non200String() }

func runPageTable(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("page-table", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.Duration("target", 5*time.Millisecond, "p99 every run is judged against")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var results []PageResult
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r PageResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("read result %q: %w", line, err)
		}
		results = append(results, r)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	if len(results) == 0 {
		return fmt.Errorf("no JSON result lines on stdin")
	}
	fmt.Fprintln(stdout, "| run | measurement | clients | req/s | ok / requests | non-200, errors | p50 | p90 | p99 | max | server CPU / request |")
	fmt.Fprintln(stdout, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		l := r.Load
		fmt.Fprintf(stdout, "| %s | under load, client-measured from start | %d | %.0f | %d / %d | %s, %d | %.2f | %.2f | %.2f | %.2f | %.3f |\n",
			r.Label, l.Concurrency, l.PerS, l.OK, l.Requests, non200String(l.Non200), l.Errors, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs, l.ServerCPUPerReqMs)
		if lo := r.Low; lo != nil {
			fmt.Fprintf(stdout, "| %s | server time: %.0f/s, request written → last byte | %d | %.0f | %d / %d | %s, %d | %.2f | – | %.2f | %.2f | %.3f |\n",
				r.Label, lo.Rate, lo.Concurrency, lo.PerS, lo.OK, lo.Requests, non200String(lo.Non200), lo.Errors, lo.ServiceP50Ms, lo.ServiceP99Ms, lo.ServiceMaxMs, lo.ServerCPUPerReqMs)
		}
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "Latencies in ms to the last byte of a 200. Under load each client sends its next GET as soon as the last is answered, so the latency includes waiting for the 2 cores the clients share with the server. The low-rate row is one client on an open-loop schedule, timed from when it wrote the request: the server's own time plus loopback and the client's HTTP stack. Server CPU is the hashcart process's CPU time over the phase divided by the requests it answered.")
	fmt.Fprintln(stdout)
	for _, r := range results {
		for _, v := range r.Verdicts(*target) {
			fmt.Fprintln(stdout, v)
		}
	}
	return nil
}
