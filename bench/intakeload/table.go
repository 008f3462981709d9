package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// checks are "LABEL=VALUE" flags, repeatable.
type checks []string

func (c *checks) String() string     { return strings.Join(*c, ",") }
func (c *checks) Set(v string) error { *c = append(*c, v); return nil }

func runTable(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bare := fs.String("bare", "bare", "label of the bare handler run the rates are compared with")
	var ratios, p99s checks
	fs.Var(&ratios, "check-ratio", "LABEL=MIN: the run's events/s must be at least MIN times the bare run's (repeatable)")
	fs.Var(&p99s, "check-p99", "LABEL=MAX: the run's p99 must be under MAX (e.g. 10ms), with at least 98% of its target rate acknowledged and no failures (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	results, err := readResults(stdin)
	if err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("no JSON result lines on stdin")
	}
	byLabel := map[string]Result{}
	for _, r := range results {
		byLabel[r.Label] = r
	}
	ref, haveRef := byLabel[*bare]
	fmt.Fprintln(stdout, "| run | mode | conc | target events/s | events/s | p50 ms | p90 ms | p99 ms | max ms | non-200 | errors | rate / bare |")
	fmt.Fprintln(stdout, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		target := "max"
		if r.TargetRate > 0 {
			target = strconv.FormatFloat(r.TargetRate, 'f', 0, 64)
		}
		ratio := "n/a"
		if haveRef && ref.EventsPerS > 0 {
			ratio = fmt.Sprintf("%.2f", r.EventsPerS/ref.EventsPerS)
		}
		fmt.Fprintf(stdout, "| %s | %s | %d | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %s | %d | %s |\n",
			r.Label, r.Mode, r.Concurrency, target, r.EventsPerS, r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs, r.non200String(), r.Errors, ratio)
	}
	fmt.Fprintln(stdout)
	for _, c := range ratios {
		fmt.Fprintln(stdout, checkRatio(c, byLabel, ref, haveRef, *bare))
	}
	for _, c := range p99s {
		fmt.Fprintln(stdout, checkP99(c, byLabel))
	}
	return nil
}

// readResults keeps the lines of in that are JSON objects and skips the
// rest (so a whole log can be piped in).
func readResults(in io.Reader) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("read result %q: %w", line, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	return out, nil
}

func checkRatio(spec string, byLabel map[string]Result, ref Result, haveRef bool, bare string) string {
	label, v, ok := strings.Cut(spec, "=")
	min, err := strconv.ParseFloat(v, 64)
	if !ok || err != nil {
		return fmt.Sprintf("check-ratio %q: not LABEL=NUMBER", spec)
	}
	r, have := byLabel[label]
	if !have || !haveRef || ref.EventsPerS <= 0 {
		return fmt.Sprintf("TARGET %s >= %.0f%% of %s rate: NOT MEASURED (missing run)", label, min*100, bare)
	}
	got := r.EventsPerS / ref.EventsPerS
	return fmt.Sprintf("TARGET %s >= %.0f%% of %s rate: %.0f / %.0f events/s = %.0f%% -> %s",
		label, min*100, bare, r.EventsPerS, ref.EventsPerS, got*100, verdict(got >= min))
}

func checkP99(spec string, byLabel map[string]Result) string {
	label, v, ok := strings.Cut(spec, "=")
	limit, err := time.ParseDuration(v)
	if !ok || err != nil {
		return fmt.Sprintf("check-p99 %q: not LABEL=DURATION", spec)
	}
	r, have := byLabel[label]
	if !have {
		return fmt.Sprintf("TARGET %s p99 < %s: NOT MEASURED (missing run)", label, limit)
	}
	limitMs := float64(limit) / float64(time.Millisecond)
	failed := r.Errors + int(r.NotSent)
	for _, n := range r.Non200 {
		failed += n
	}
	kept := r.TargetRate <= 0 || r.EventsPerS >= 0.98*r.TargetRate
	met := r.P99Ms < limitMs && kept && failed == 0
	note := ""
	if !kept {
		note += fmt.Sprintf(" (only %.0f of %.0f events/s acknowledged)", r.EventsPerS, r.TargetRate)
	}
	if failed > 0 {
		note += fmt.Sprintf(" (%d deliveries failed)", failed)
	}
	return fmt.Sprintf("TARGET %s p99 < %s at %.0f events/s: p99 %.2f ms, %.0f events/s acknowledged -> %s%s",
		label, limit, r.TargetRate, r.P99Ms, r.EventsPerS, verdict(met), note)
}

func verdict(met bool) string {
	if met {
		return "MET"
	}
	return "MISSED"
}
