package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

// The snapshot counts unsent work, dates the oldest waiting event, and
// counts as recovered only paid orders placed after a reminder reached
// their buyer from the same merchant.
func TestOpsSnapshotCountsQueuesAndRecoveredCarts(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		empty, err := db.OpsSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if empty.InboxPending != 0 || !empty.InboxOldestPending.IsZero() || empty.OutboxPending != 0 || len(empty.Recovered) != 0 {
			t.Fatalf("empty database: %+v", empty)
		}
		t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		evs := events(3, inbox.KindTweetCreate)
		for i := range evs {
			evs[i].ReceivedAt = t0.Add(time.Duration(i) * time.Minute)
		}
		if _, err := db.Inbox().InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		msg := func(key, merchant, recipient, status string, finished time.Time) {
			t.Helper()
			if err := db.ExecForTest(ctx, `INSERT INTO outbox_messages (msg_key, merchant_id, kind, priority, recipient_id, body, status, created_at, next_attempt_at, finished_at)
VALUES (?, ?, 'dm', 20, ?, 'hi', ?, ?, ?, ?)`, key, merchant, recipient, status, t0, t0, finished); err != nil {
				t.Fatal(err)
			}
		}
		order := func(hold int64, merchant, buyer, status string, created time.Time) {
			t.Helper()
			if err := db.ExecForTest(ctx, `INSERT INTO orders (merchant_id, buyer_id, hold_id, status, total_amount, currency, shipping_sealed, contact_sealed, created_at, updated_at)
VALUES (?, ?, ?, ?, 100, 'USD', '', '', ?, ?)`, merchant, buyer, hold, status, created, created); err != nil {
				t.Fatal(err)
			}
		}
		msg("reminder:cart:1:1", "acme", "901", "sent", t0.Add(time.Hour))
		msg("reminder:cart:2:1", "acme", "902", "pending", t0)
		msg("reminder:cart:3:1", "acme", "903", "sent", t0.Add(time.Hour))
		msg("dm:hold:9", "acme", "904", "sent", t0)
		msg("reminder:cart:5:1", "other", "905", "sent", t0)
		order(1, "acme", "901", "paid", t0.Add(2*time.Hour))      // reminded, then bought: recovered
		order(2, "acme", "902", "paid", t0.Add(2*time.Hour))      // reminder never sent
		order(3, "acme", "903", "paid", t0)                       // bought before the reminder
		order(4, "acme", "904", "paid", t0.Add(2*time.Hour))      // no reminder, only a link DM
		order(5, "acme", "905", "paid", t0.Add(2*time.Hour))      // reminded by another merchant
		order(6, "acme", "901", "cancelled", t0.Add(3*time.Hour)) // not paid
		got, err := db.OpsSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.InboxPending != 3 || !got.InboxOldestPending.Equal(t0) {
			t.Errorf("inbox: %d pending, oldest %v; want 3, %v", got.InboxPending, got.InboxOldestPending, t0)
		}
		if got.OutboxPending != 1 || got.OutboxSending != 0 {
			t.Errorf("outbox: %d pending, %d sending; want 1, 0", got.OutboxPending, got.OutboxSending)
		}
		if len(got.Recovered) != 1 || got.Recovered["acme"] != 1 {
			t.Errorf("recovered = %v, want acme: 1", got.Recovered)
		}
	})
}
