package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

// BenchmarkOutboxClaimWithHistory claims (and gives back) one batch of 20
// from 2,000 pending messages in a table that also holds 20,000 sent ones,
// as the pipeline benchmark's outbox looks after a few seconds at 1,000
// events/s. ns/op is per claim pass.
func BenchmarkOutboxClaimWithHistory(b *testing.B) {
	for _, d := range storagetest.Drivers() {
		b.Run(d, func(b *testing.B) {
			db := storagetest.Open(b, d, storagetest.Options{})
			ctx := context.Background()
			enqueueDMs(b, db, "dm", 22_000)
			if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET status = 'sent' WHERE id <= 20000`); err != nil {
				b.Fatal(err)
			}
			claimAndGiveBack(b, db)
		})
	}
}

// BenchmarkOutboxClaimPastBackoff claims the 20 due messages of an outbox
// in which 5,000 more wait out a retry backoff, as it looks while X
// answers 500 to a drop's replies. ns/op is per claim pass.
func BenchmarkOutboxClaimPastBackoff(b *testing.B) {
	for _, d := range storagetest.Drivers() {
		b.Run(d, func(b *testing.B) {
			db := storagetest.Open(b, d, storagetest.Options{})
			ctx := context.Background()
			enqueueDMs(b, db, "dm", 5_000)
			enqueueDMs(b, db, "due", 20)
			backoff := time.Now().UTC().Add(time.Minute)
			if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET next_attempt_at = ?, attempts = 1 WHERE msg_key NOT LIKE 'due:%'`, backoff); err != nil {
				b.Fatal(err)
			}
			claimAndGiveBack(b, db)
		})
	}
}

// enqueueDMs enqueues n DMs keyed prefix:0, prefix:1, ...
func enqueueDMs(b *testing.B, db *storage.DB, prefix string, n int) {
	for start := 0; start < n; start += 1000 {
		msgs := make([]outbox.Message, 0, 1000)
		for i := start; i < min(start+1000, n); i++ {
			msgs = append(msgs, outboxDM(fmt.Sprintf("%s:%d", prefix, i)))
		}
		if err := db.Outbox().Enqueue(context.Background(), msgs...); err != nil {
			b.Fatal(err)
		}
	}
}

// claimAndGiveBack times claim passes of 20 due messages, each batch put
// back afterwards so that every pass claims from the same rows.
func claimAndGiveBack(b *testing.B, db *storage.DB) {
	ctx := context.Background()
	req := claimReq(time.Now().UTC().Add(time.Second), 20, 1_000_000) // after every enqueue
	req.SkipExpiry = true
	req.Budget.PerApp = 1 << 30
	for b.Loop() {
		c, err := db.Outbox().Claim(ctx, req)
		if err != nil || len(c.Messages) != 20 {
			b.Fatalf("claim = %d messages, %v", len(c.Messages), err)
		}
		ids := make([]int64, len(c.Messages))
		for i, m := range c.Messages {
			ids[i] = m.ID
		}
		if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET status = 'pending', lease_until = NULL WHERE id IN ?`, ids); err != nil {
			b.Fatal(err)
		}
	}
}
