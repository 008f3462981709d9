package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// sentEvent is one pipeline event as the sender saw it: the shopper it is
// from, when it was due, when its request was written and answered (all
// offsets on the run's monotonic clock) and the answer's status (0 for a
// transport error, -1 when it was never sent).
type sentEvent struct {
	user             string
	due, sent, acked time.Duration
	status           int
}

// PipelineResult is the summary of one pipeline run over its measurement
// window. Latencies are in milliseconds.
type PipelineResult struct {
	Label       string  `json:"label"`
	Driver      string  `json:"driver"`
	TargetRate  float64 `json:"target_events_per_s"`
	Concurrency int     `json:"concurrency"`
	WarmupS     float64 `json:"warmup_s"`
	WindowS     float64 `json:"window_s"`
	GraceS      float64 `json:"grace_s"`
	// Events is how many events were due in the window; Acked how many of
	// them were answered 200; AckNon200, AckErrors and NotSent the others.
	Events    int         `json:"events"`
	Acked     int         `json:"acked"`
	AckNon200 map[int]int `json:"ack_non200,omitempty"`
	AckErrors int         `json:"ack_errors"`
	NotSent   int         `json:"not_sent"`
	// WithDM is how many of Events had a DM request at the simulator by
	// the grace deadline; Missing how many did not.
	WithDM  int `json:"with_dm"`
	Missing int `json:"missing"`
	// P50Ms..MaxMs: DM request arrival at the simulator minus the time the
	// event was due, over all Events. An event with no DM counts as the
	// grace deadline minus its due time, a lower bound; Censored says that
	// such a bound is in at least one of the figures.
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	Censored bool    `json:"censored,omitempty"`
	// AckP50Ms..AckMaxMs: the webhook's answer minus the due time, over
	// Acked; SendLagP99Ms: how late the client wrote requests.
	AckP50Ms     float64 `json:"ack_p50_ms"`
	AckP99Ms     float64 `json:"ack_p99_ms"`
	AckMaxMs     float64 `json:"ack_max_ms"`
	SendLagP99Ms float64 `json:"send_lag_p99_ms"`
	// DMRequests counts every DM request at the simulator during the run
	// (warm-up included, repeats included); DMRecipients the distinct
	// recipients among them.
	DMRequests   int `json:"dm_requests"`
	DMRecipients int `json:"dm_recipients"`
	// Stages splits the measured events' path using the server's own
	// timestamps; Backlog* count rows by status when the last event was
	// due and after the grace period (empty when the database was not
	// read).
	Stages         *stageFigures  `json:"stages,omitempty"`
	BacklogAtEnd   map[string]int `json:"backlog_at_end,omitempty"`
	BacklogAtGrace map[string]int `json:"backlog_after_grace,omitempty"`
	// ClientCPUS is this tool's CPU time for the whole run (simulator
	// included); ServerCPUS hashcart's, up to the end of the grace period.
	ClientCPUS float64 `json:"client_cpu_s"`
	ServerCPUS float64 `json:"server_cpu_s"`
	FirstError string  `json:"first_error,omitempty"`
}

// stageFigures split the measured events' path with the server's own
// timestamps, as p50/p99 in milliseconds, each over the events that got
// that far (the *Rows counts): Intake is due time to the inbox row's
// received_at; ToOutbox is received_at to the DM's outbox row created_at
// (inbox queue, bot, hold); Outbox is created_at to finished_at (outbox
// queue and the request to X), for DMs that were sent.
type stageFigures struct {
	InboxRows     int     `json:"inbox_rows"`
	IntakeP50Ms   float64 `json:"intake_p50_ms"`
	IntakeP99Ms   float64 `json:"intake_p99_ms"`
	QueuedRows    int     `json:"queued_rows"`
	ToOutboxP50Ms float64 `json:"to_outbox_p50_ms"`
	ToOutboxP99Ms float64 `json:"to_outbox_p99_ms"`
	SentRows      int     `json:"sent_rows"`
	OutboxP50Ms   float64 `json:"outbox_p50_ms"`
	OutboxP99Ms   float64 `json:"outbox_p99_ms"`
}

// joinPipeline matches each event due in [windowStart, windowEnd) with the
// first DM request to its shopper (arrivals) and summarizes the latencies.
// A DM that arrived after deadline, or never, makes the event Missing.
func joinPipeline(events []sentEvent, arrivals map[string]time.Duration, windowStart, windowEnd, deadline time.Duration) PipelineResult {
	var res PipelineResult
	var lat, ack, lag []time.Duration
	for _, e := range events {
		if e.due < windowStart || e.due >= windowEnd {
			continue
		}
		res.Events++
		switch e.status {
		case 200:
			res.Acked++
			ack = append(ack, e.acked-e.due)
			lag = append(lag, e.sent-e.due)
		case 0:
			res.AckErrors++
		case -1:
			res.NotSent++
		default:
			if res.AckNon200 == nil {
				res.AckNon200 = map[int]int{}
			}
			res.AckNon200[e.status]++
		}
		at, ok := arrivals[e.user]
		if ok && at <= deadline {
			res.WithDM++
			lat = append(lat, at-e.due)
			continue
		}
		res.Missing++
		lat = append(lat, censored(deadline-e.due))
	}
	slices.Sort(lat)
	slices.Sort(ack)
	slices.Sort(lag)
	var cens bool
	res.P50Ms, cens = uncensor(percentile(lat, 0.50))
	res.Censored = res.Censored || cens
	res.P90Ms, cens = uncensor(percentile(lat, 0.90))
	res.Censored = res.Censored || cens
	res.P99Ms, cens = uncensor(percentile(lat, 0.99))
	res.Censored = res.Censored || cens
	res.MaxMs, cens = uncensor(percentile(lat, 1))
	res.Censored = res.Censored || cens
	res.AckP50Ms = ms(percentile(ack, 0.50))
	res.AckP99Ms = ms(percentile(ack, 0.99))
	res.AckMaxMs = ms(percentile(ack, 1))
	res.SendLagP99Ms = ms(percentile(lag, 0.99))
	return res
}

// censoredBit marks a latency that is only a lower bound (no DM came). It
// is far above any real latency, so censored values sort last.
const censoredBit = time.Duration(1) << 60

func censored(d time.Duration) time.Duration { return censoredBit + max(d, 0) }

// uncensor returns d in milliseconds and whether it was a lower bound.
func uncensor(d time.Duration) (float64, bool) {
	if d >= censoredBit {
		return ms(d - censoredBit), true
	}
	return ms(d), false
}

// pipelineVerdict says whether r meets "p99 under limit": every event due
// in the window was sent, acknowledged and got its DM, and p99 < limit.
func pipelineVerdict(r PipelineResult, limit time.Duration) (bool, string) {
	limitMs := ms(limit)
	var why []string
	if r.Events == 0 {
		why = append(why, "no events measured")
	}
	if r.Missing > 0 {
		why = append(why, fmt.Sprintf("%d events without a DM within %.0f s", r.Missing, r.GraceS))
	}
	if failed := r.Events - r.Acked; failed > 0 {
		why = append(why, fmt.Sprintf("%d events not acknowledged", failed))
	}
	if r.P99Ms >= limitMs {
		why = append(why, fmt.Sprintf("p99 %.1f ms is %.1f ms over", r.P99Ms, r.P99Ms-limitMs))
	}
	if len(why) == 0 {
		return true, fmt.Sprintf("p99 %.1f ms < %s", r.P99Ms, limit)
	}
	return false, strings.Join(why, "; ")
}

// Line is the result as one human-readable line.
func (r PipelineResult) Line() string {
	bound := ""
	if r.Censored {
		bound = " (lower bound: some events got no DM)"
	}
	return fmt.Sprintf("%s: driver=%s rate=%.0f/s events=%d acked=%d with_dm=%d missing=%d pipeline p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms%s ack p50=%.1fms p99=%.1fms send_lag_p99=%.1fms dm_requests=%d client_cpu=%.1fs server_cpu=%.1fs",
		r.Label, r.Driver, r.TargetRate, r.Events, r.Acked, r.WithDM, r.Missing,
		r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs, bound, r.AckP50Ms, r.AckP99Ms, r.SendLagP99Ms, r.DMRequests, r.ClientCPUS, r.ServerCPUS)
}
