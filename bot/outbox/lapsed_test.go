package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
)

// A sender dies after X took a DM but before recording it: when the lease
// runs out, the next sender finds the DM at X and does not send it again.
func TestLapsedDMIsNotSentTwice(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.enqueue(dm("order:1:dm_order_paid", "901", "Order HC-000001 is confirmed.", outbox.PriorityConfirmation),
			dm("order:2:dm_order_paid", "902", "Order HC-000002 is confirmed.", outbox.PriorityConfirmation))
		ctx := context.Background()
		cfg := outbox.Config{Lease: 2 * time.Second}
		c, err := e.db.Outbox().Claim(ctx, outbox.ClaimRequest{Now: e.clock.Now(), Limit: 10, Lease: cfg.Lease, Budget: outbox.Budget{Window: time.Hour, PerAccount: 100, PerApp: 100}, MaxAge: time.Hour})
		if err != nil || len(c.Messages) != 2 {
			t.Fatalf("claim: %d, %v", len(c.Messages), err)
		}
		// The dying sender got the first DM to X, not the second.
		creds, _ := credentials("acme")
		if _, err := e.x.SendDM(ctx, creds, "901", "Order HC-000001 is confirmed."); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(3 * time.Second)
		drain(t, e.sender(cfg))
		if got := len(e.sim.DMsTo("901")); got != 1 {
			t.Fatalf("DMs to 901 = %d, want 1 (found at X, not sent again)", got)
		}
		if got := len(e.sim.DMsTo("902")); got != 1 {
			t.Fatalf("DMs to 902 = %d, want 1 (never sent: sent now)", got)
		}
		if e.status("order:1:dm_order_paid") != outbox.StatusSent {
			t.Fatal("the DM found at X is not recorded as sent")
		}
	})
}
