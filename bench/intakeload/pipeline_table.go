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

func runPipelineTable(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pipeline-table", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.Duration("target", 100*time.Millisecond, "p99 every run is judged against")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var results []PipelineResult
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r PipelineResult
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
	fmt.Fprintln(stdout, "| run | events/s | events | DM p50 | DM p90 | DM p99 | DM max | no DM in grace | ack p50 | ack p99 | due→inbox p99 | inbox→DM queued p50 / p99 | DM queued→sent p50 / p99 | server CPU |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		bound := ""
		if r.Censored {
			bound = "≥ "
		}
		st := "n/a | n/a | n/a"
		if s := r.Stages; s != nil {
			st = fmt.Sprintf("%.1f | %.0f / %.0f (%d) | %.0f / %.0f (%d)", s.IntakeP99Ms, s.ToOutboxP50Ms, s.ToOutboxP99Ms, s.QueuedRows, s.OutboxP50Ms, s.OutboxP99Ms, s.SentRows)
		}
		fmt.Fprintf(stdout, "| %s | %.0f | %d | %s%.1f | %s%.1f | %s%.1f | %s%.1f | %d | %.1f | %.1f | %s | %.1f s |\n",
			r.Label, r.TargetRate, r.Events, bound, r.P50Ms, bound, r.P90Ms, bound, r.P99Ms, bound, r.MaxMs, r.Missing,
			r.AckP50Ms, r.AckP99Ms, st, r.ServerCPUS)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "DM latencies in ms from when the event was due to when its DM request reached the simulator; ≥ marks lower bounds (events with no DM count as the grace deadline). Stage figures in ms from the server's rows, with the events that reached the stage in parentheses.")
	fmt.Fprintln(stdout)
	for _, r := range results {
		met, why := pipelineVerdict(r, *target)
		fmt.Fprintf(stdout, "TARGET %s pipeline p99 < %s at %.0f events/s: %s -> %s\n", r.Label, *target, r.TargetRate, why, verdict(met))
	}
	return nil
}
