package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
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
			now := time.Now().UTC().Add(time.Second) // after every enqueue
			for i := range 22 {
				msgs := make([]outbox.Message, 1000)
				for j := range msgs {
					msgs[j] = outboxDM(fmt.Sprintf("dm:%d", i*1000+j))
				}
				if err := db.Outbox().Enqueue(ctx, msgs...); err != nil {
					b.Fatal(err)
				}
			}
			if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET status = 'sent' WHERE id <= 20000`); err != nil {
				b.Fatal(err)
			}
			req := claimReq(now, 20, 1_000_000)
			req.SkipExpiry = true
			req.Budget.PerApp = 1 << 30
			for b.Loop() {
				c, err := db.Outbox().Claim(ctx, req)
				if err != nil || len(c.Messages) != 20 {
					b.Fatalf("claim = %d messages, %v", len(c.Messages), err)
				}
				// Give the batch back so every pass claims from the same rows.
				ids := make([]int64, len(c.Messages))
				for i, m := range c.Messages {
					ids[i] = m.ID
				}
				if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET status = 'pending', lease_until = NULL WHERE id IN ?`, ids); err != nil {
					b.Fatal(err)
				}
			}
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
			now := time.Now().UTC().Add(time.Second) // after every enqueue
			for i := range 5 {
				msgs := make([]outbox.Message, 1000)
				for j := range msgs {
					msgs[j] = outboxDM(fmt.Sprintf("dm:%d", i*1000+j))
				}
				if err := db.Outbox().Enqueue(ctx, msgs...); err != nil {
					b.Fatal(err)
				}
			}
			due := make([]outbox.Message, 20)
			for j := range due {
				due[j] = outboxDM(fmt.Sprintf("due:%d", j))
			}
			if err := db.Outbox().Enqueue(ctx, due...); err != nil {
				b.Fatal(err)
			}
			if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET next_attempt_at = ?, attempts = 1 WHERE msg_key NOT LIKE 'due:%'`, now.Add(time.Minute)); err != nil {
				b.Fatal(err)
			}
			if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET next_attempt_at = ? WHERE msg_key LIKE 'due:%'`, now.Add(-time.Second)); err != nil {
				b.Fatal(err)
			}
			req := claimReq(now, 20, 1_000_000)
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
		})
	}
}
