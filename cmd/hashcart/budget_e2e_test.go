package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/storage"
)

// An operator raises outbox.per_account and restarts: the messages the old
// budget had deferred to its window's end (an hour here) go out at once.
func TestRaisedAccountBudgetSendsDeferredMessagesAfterARestart(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "outbox: { poll_interval: 50ms, window: 1h, per_account: 4, per_app: 1000 }")
	const buyers = 5 // a checkout DM and a public "check your DMs" each
	for i := 1; i <= buyers; i++ {
		s.deliver(t, replyTo("1001", i, "#BuyNow black"))
	}
	sends := func() int { return len(s.sim.DMs()) + len(s.sim.Posts()) }
	deadline := time.Now().Add(30 * time.Second)
	for {
		counts, err := s.db.Outbox().Counts(context.Background())
		if err == nil && sends() == 4 && counts[outbox.StatusPending] > 0 && counts[outbox.StatusSending] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("under per_account 4: %d sends, outbox %v; want 4 sent and the rest pending", sends(), counts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // passes run every 50 ms: the budget holds the rest
	if n := sends(); n != 4 {
		t.Fatalf("%d sends within the window, want the budget of 4", n)
	}

	s.stop(syscall.SIGTERM)
	editConfig(t, s.config, "per_account: 4", "per_account: 100")
	s.instance = start(t, s.config, s.base)
	s.settle(t) // gives up after 60 s; the window would end in an hour
	dms, posts := s.sim.DMs(), s.sim.Posts()
	if len(dms) != buyers || len(posts) != buyers {
		t.Fatalf("after the restart: %d DMs and %d public replies, want %d of each", len(dms), len(posts), buyers)
	}
	to := map[string]bool{}
	for _, dm := range dms {
		if to[dm.RecipientID] || !linkRE.MatchString(dm.Text) {
			t.Errorf("DM to %s: %q (a second one, or no checkout link)", dm.RecipientID, dm.Text)
		}
		to[dm.RecipientID] = true
	}
	for _, p := range posts {
		if !strings.Contains(p.Text, "Check your DMs") {
			t.Errorf("public reply %q is not the checkout nudge", p.Text)
		}
	}
}
