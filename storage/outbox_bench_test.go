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
			now := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
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
