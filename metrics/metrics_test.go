package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/storage"
)

func TestOutboxOutcomesCountSendsRemindersAndRateLimitWaits(t *testing.T) {
	m := New()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	reminder := outbox.Message{Key: "reminder:cart:7:1", MerchantID: "acme", Kind: outbox.KindDM, Priority: outbox.PriorityReminder}
	link := outbox.Message{Key: "dm:hold:1", MerchantID: "acme", Kind: outbox.KindDM}
	cases := []struct {
		msg outbox.Message
		r   outbox.Result
	}{
		{reminder, outbox.Result{Outcome: outbox.OutcomeSent, Now: now}},
		{link, outbox.Result{Outcome: outbox.OutcomeSent, Now: now}},
		{link, outbox.Result{Outcome: outbox.OutcomeRateLimited, Now: now, Next: now.Add(90 * time.Second)}},
		{link, outbox.Result{Outcome: outbox.OutcomeRateLimited, Now: now, Next: now.Add(30 * time.Second)}},
	}
	for _, c := range cases {
		m.OutboxOutcome(c.msg, c.r)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"dm sent", testutil.ToFloat64(m.sends.WithLabelValues("dm", "sent")), 2},
		{"dm rate limited", testutil.ToFloat64(m.sends.WithLabelValues("dm", "rate_limited")), 2},
		{"reminders sent", testutil.ToFloat64(m.reminders.WithLabelValues("acme")), 1},
		{"rate limit wait seconds", testutil.ToFloat64(m.rateWait.WithLabelValues("acme")), 120},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestReservedCountsNewHoldsAndSoldOutsOnly(t *testing.T) {
	m := New()
	m.Reserved("acme", "tote", false, nil)
	m.Reserved("acme", "tote", true, nil) // the buyer's existing hold
	m.Reserved("acme", "tote", false, fmt.Errorf("reserve: %w", commerce.ErrSoldOut))
	m.Reserved("acme", "tote", false, errors.New("database gone"))
	if got := testutil.ToFloat64(m.holds.WithLabelValues("acme", "tote")); got != 1 {
		t.Errorf("holds = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.soldOuts.WithLabelValues("acme", "tote")); got != 1 {
		t.Errorf("sold outs = %v, want 1", got)
	}
}

func TestUnknownInboxKindsShareOneLabel(t *testing.T) {
	m := New()
	m.Intake([]inbox.Event{{Kind: inbox.KindTweetCreate}, {Kind: "favorite"}, {Kind: "follow"}}, "stored")
	if got := testutil.ToFloat64(m.intake.WithLabelValues("other", "stored")); got != 2 {
		t.Errorf("other kinds = %v, want 2", got)
	}
}

func TestHandlerAsksForTheBearerToken(t *testing.T) {
	m := New()
	cases := []struct {
		token, header string
		want          int
	}{
		{"", "", 200},
		{"s3cret", "", 401},
		{"s3cret", "Bearer wrong", 401},
		{"s3cret", "s3cret", 401},
		{"s3cret", "Bearer s3cret", 200},
	}
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		rec := httptest.NewRecorder()
		m.Handler(c.token).ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("token %q, Authorization %q: %d, want %d", c.token, c.header, rec.Code, c.want)
		}
	}
}

func TestDatabaseGaugesReportLagAndFailures(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	fail := false
	reads := 0
	m := New()
	m.WatchDatabase(func(ctx context.Context) (storage.OpsSnapshot, error) {
		reads++
		if fail {
			return storage.OpsSnapshot{}, errors.New("connection refused")
		}
		return storage.OpsSnapshot{InboxPending: 3, InboxOldestPending: now.Add(-42 * time.Second), OutboxPending: 7}, nil
	}, time.Second, 0, func() time.Time { return now })
	page := func() string {
		rec := httptest.NewRecorder()
		m.Handler("").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Body.String()
	}
	got := page()
	for _, want := range []string{"hashcart_inbox_lag_seconds 42", "hashcart_inbox_pending_events 3", `hashcart_outbox_depth{status="pending"} 7`, "hashcart_database_read_ok 1"} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	fail = true
	got = page()
	if !strings.Contains(got, "hashcart_database_read_ok 0\n") || strings.Contains(got, "hashcart_inbox_lag_seconds") {
		t.Errorf("with the database unreadable:\n%s", got)
	}
}
