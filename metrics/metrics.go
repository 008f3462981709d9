package metrics

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/storage"
)

// Metrics holds hashcart's collectors. The zero value is not usable; call
// New. Every method is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	intake    *prometheus.CounterVec
	signature *prometheus.CounterVec
	handled   *prometheus.CounterVec
	sends     *prometheus.CounterVec
	rateWait  *prometheus.CounterVec
	reminders *prometheus.CounterVec
	holds     *prometheus.CounterVec
	soldOuts  *prometheus.CounterVec
	sales     *prometheus.CounterVec
	jobs      *prometheus.HistogramVec
}

// New returns Metrics with every hashcart collector, plus the Go runtime
// and process collectors, registered in a registry of its own.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hashcart", Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.intake = counter("intake_events_total",
		"X webhook events by kind and result: stored (committed, then acknowledged), refused (answered 503, X retries), dropped (not our account).", "kind", "result")
	m.signature = counter("webhook_signature_failures_total", "Webhook deliveries refused for a bad or missing signature, by source (x, stripe, sandbox).", "source")
	m.handled = counter("inbox_handled_total", "Inbox events handled, by kind and result (ok, failed: retried later or dead).", "kind", "result")
	m.sends = counter("outbox_sends_total",
		"Outbox outcomes recorded, by kind (dm, reply, post) and outcome (sent, retry, rate_limited, released, failed, undeliverable, expired).", "kind", "outcome")
	m.rateWait = counter("outbox_rate_limit_wait_seconds_total",
		"Time sends to a merchant's account were paused because X answered 429, summed over 429s.", "merchant")
	m.reminders = counter("reminders_sent_total", "Reminder DMs sent to buyers, by merchant.", "merchant")
	m.holds = counter("holds_total", "New holds placed, by merchant and offer.", "merchant", "offer")
	m.soldOuts = counter("sold_outs_total", "Requests to hold an offer refused because it was sold out, by merchant and offer.", "merchant", "offer")
	m.sales = counter("sales_total", "Paid order lines, by merchant and offer.", "merchant", "offer")
	m.jobs = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "hashcart", Name: "job_duration_seconds", Help: "Duration of scheduled job runs, by job and result (ok, error).",
		Buckets: []float64{.001, .005, .025, .1, .5, 1, 5, 30, 120},
	}, []string{"job", "result"})
	m.reg.MustRegister(m.jobs,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus' text format. When token is
// not empty, a request without "Authorization: Bearer <token>" gets 401.
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hashcart metrics"`)
			http.Error(w, "metrics need a bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// kindLabel bounds the kind label: kinds hashcart acts on by name, any
// other as "other" (X may add kinds; each would be a new series).
func kindLabel(k inbox.Kind) string {
	if k.Actionable() {
		return string(k)
	}
	return "other"
}

// Intake counts a delivery's events by kind (webhooks.Observer).
func (m *Metrics) Intake(events []inbox.Event, result string) {
	for _, ev := range events {
		m.intake.WithLabelValues(kindLabel(ev.Kind), result).Inc()
	}
}

// SignatureRejected counts a delivery with a bad signature
// (webhooks.Observer).
func (m *Metrics) SignatureRejected(source string) { m.signature.WithLabelValues(source).Inc() }

// InboxHandled counts one handler run (inbox.Workers.Handled).
func (m *Metrics) InboxHandled(kind inbox.Kind, err error) {
	result := "ok"
	if err != nil {
		result = "failed"
	}
	m.handled.WithLabelValues(kindLabel(kind), result).Inc()
}

// OutboxOutcome counts a recorded outcome (outbox.Sender.Observe): by kind
// and outcome, reminders sent, and the pause a 429 imposes.
func (m *Metrics) OutboxOutcome(msg outbox.Message, r outbox.Result) {
	m.sends.WithLabelValues(string(msg.Kind), string(r.Outcome)).Inc()
	switch r.Outcome {
	case outbox.OutcomeSent:
		if msg.Priority == outbox.PriorityReminder || strings.HasPrefix(msg.Key, "reminder:") {
			m.reminders.WithLabelValues(msg.MerchantID).Inc()
		}
	case outbox.OutcomeRateLimited:
		if wait := r.Next.Sub(r.Now); wait > 0 {
			m.rateWait.WithLabelValues(msg.MerchantID).Add(wait.Seconds())
		}
	}
}

// Offers makes the per-offer series exist at zero, so that rates are
// right from the first scrape.
func (m *Metrics) Offers(offers []*commerce.Offer) {
	for _, o := range offers {
		m.holds.WithLabelValues(o.MerchantID, o.ID)
		m.soldOuts.WithLabelValues(o.MerchantID, o.ID)
		m.sales.WithLabelValues(o.MerchantID, o.ID)
	}
}

// Reserved counts the outcome of one request to hold an offer: a new hold,
// or a refusal for lack of stock. A reused hold and other errors count
// nothing.
func (m *Metrics) Reserved(merchantID, offerID string, reused bool, err error) {
	switch {
	case err == nil && !reused:
		m.holds.WithLabelValues(merchantID, offerID).Inc()
	case errors.Is(err, commerce.ErrSoldOut):
		m.soldOuts.WithLabelValues(merchantID, offerID).Inc()
	}
}

// Paid counts a paid order's lines.
func (m *Metrics) Paid(o commerce.Order) {
	for _, l := range o.Lines {
		m.sales.WithLabelValues(o.MerchantID, l.OfferID).Inc()
	}
}

// JobRun records a scheduled job's run (jobs.Scheduler.Observe).
func (m *Metrics) JobRun(job string, d time.Duration, _ int, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.jobs.WithLabelValues(job, result).Observe(d.Seconds())
}

// WatchDatabase adds the gauges read from the database at scrape time:
// inbox depth and lag, outbox depth, recovered carts, and whether the read
// worked. read is called at most once per maxAge (scrapes in between see
// the last reading) and given timeout; while it fails, only
// hashcart_database_read_ok (0) is reported.
func (m *Metrics) WatchDatabase(read func(ctx context.Context) (storage.OpsSnapshot, error), timeout, maxAge time.Duration, now func() time.Time) {
	m.reg.MustRegister(&dbCollector{read: read, timeout: timeout, maxAge: maxAge, now: now})
}

var (
	descReadOK       = prometheus.NewDesc("hashcart_database_read_ok", "1 when the last read of the queue gauges from the database worked, else 0.", nil, nil)
	descInboxPending = prometheus.NewDesc("hashcart_inbox_pending_events", "Stored inbox events not yet handled (all instances).", nil, nil)
	descInboxLag     = prometheus.NewDesc("hashcart_inbox_lag_seconds", "Age of the oldest inbox event not yet handled; 0 when none waits.", nil, nil)
	descOutboxDepth  = prometheus.NewDesc("hashcart_outbox_depth", "Unsent outbox messages by status: pending (waiting) or sending (leased).", []string{"status"}, nil)
	descRecovered    = prometheus.NewDesc("hashcart_carts_recovered", "Paid orders whose buyer had been sent a reminder by the merchant before ordering (database total).", []string{"merchant"}, nil)
)

type dbCollector struct {
	read            func(ctx context.Context) (storage.OpsSnapshot, error)
	timeout, maxAge time.Duration
	now             func() time.Time

	mu   sync.Mutex
	at   time.Time
	snap storage.OpsSnapshot
	err  error
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReadOK, descInboxPending, descInboxLag, descOutboxDepth, descRecovered} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	now := c.now()
	if c.at.IsZero() || now.Sub(c.at) >= c.maxAge {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		c.snap, c.err = c.read(ctx)
		cancel()
		c.at = now
	}
	snap, err := c.snap, c.err
	c.mu.Unlock()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descReadOK, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descReadOK, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descInboxPending, prometheus.GaugeValue, float64(snap.InboxPending))
	lag := 0.0
	if !snap.InboxOldestPending.IsZero() {
		lag = max(now.Sub(snap.InboxOldestPending).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(descInboxLag, prometheus.GaugeValue, lag)
	ch <- prometheus.MustNewConstMetric(descOutboxDepth, prometheus.GaugeValue, float64(snap.OutboxPending), "pending")
	ch <- prometheus.MustNewConstMetric(descOutboxDepth, prometheus.GaugeValue, float64(snap.OutboxSending), "sending")
	for merchant, n := range snap.Recovered {
		ch <- prometheus.MustNewConstMetric(descRecovered, prometheus.GaugeValue, float64(n), merchant)
	}
}
