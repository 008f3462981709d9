package outbox_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
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

// eachVersion runs fn on every storage backend with the sender speaking
// each X API version.
func eachVersion(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, version := range []string{"2", "1.1"} {
		t.Run("v"+version, func(t *testing.T) {
			c := &clock{now: t0}
			storagetest.Each(t, storagetest.Options{Now: c.Now}, func(t *testing.T, db *storage.DB) {
				c.mu.Lock()
				c.now = t0
				c.mu.Unlock()
				fn(t, newEnv(t, db, c, version))
			})
		})
	}
}

// postsTo returns the texts the simulator holds in reply to post id.
func postsTo(e *env, id string) []string {
	var out []string
	for _, p := range e.sim.Posts() {
		if p.InReplyTo == id {
			out = append(out, p.Text)
		}
	}
	return out
}

// A sender dies after X took a public reply but before recording it: when
// the lease runs out, the next sender finds the reply among the merchant's
// posts and does not post it again; replies X does not have (never sent,
// sent to another post, or only an identical one from before the message)
// are posted once.
func TestLapsedReplyIsNotPostedTwice(t *testing.T) {
	eachVersion(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		creds, _ := credentials("acme")
		// An identical notice from an earlier sell-out, long before this one.
		old, err := e.x.PostReply(ctx, creds, "1790000000000000009", "Signed vinyl is sold out.")
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(30 * time.Minute)

		soldOut := reply("tweet:1:reply_sold_out", "1790000000000000001", "Sorry,  it sold out & is gone.", outbox.PrioritySoldOut)
		notice := outbox.Message{Key: "offer:vinyl:post_sold_out", MerchantID: "acme", Kind: outbox.KindPost, Priority: outbox.PrioritySoldOut,
			InReplyTo: "1790000000000000009", Text: "Signed vinyl is sold out."}
		other := reply("tweet:2:reply_sold_out", "1790000000000000002", "Sorry,  it sold out & is gone.", outbox.PrioritySoldOut)
		e.enqueue(soldOut, notice, other)
		cfg := outbox.Config{Lease: 2 * time.Second}
		c, err := e.db.Outbox().Claim(ctx, outbox.ClaimRequest{Now: e.clock.Now(), Limit: 10, Lease: cfg.Lease, Budget: outbox.Budget{Window: time.Hour, PerAccount: 100, PerApp: 100}, MaxAge: time.Hour})
		if err != nil || len(c.Messages) != 3 {
			t.Fatalf("claim: %d, %v", len(c.Messages), err)
		}
		// The dying sender got the first reply to X, and X shows it its
		// own way (the @name it adds, whitespace collapsed, & escaped).
		e.clock.Advance(time.Second)
		first, err := e.x.PostReply(ctx, creds, "1790000000000000001", "@ann Sorry, it sold out &amp; is gone.")
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(3 * time.Second)
		s := e.sender(cfg)
		drain(t, s)

		if got := postsTo(e, "1790000000000000001"); len(got) != 1 {
			t.Errorf("replies to 1790000000000000001 = %q, want 1 (found at X, not posted again)", got)
		}
		if got := postsTo(e, "1790000000000000002"); len(got) != 1 {
			t.Errorf("replies to 1790000000000000002 = %q, want 1 (same text, other post: posted)", got)
		}
		if got := postsTo(e, "1790000000000000009"); len(got) != 2 {
			t.Errorf("posts on 1790000000000000009 = %q, want the old one and this one", got)
		}
		for key, wantXID := range map[string]string{soldOut.Key: first, notice.Key: "", other.Key: ""} {
			m, _, err := e.db.Outbox().Get(ctx, key)
			if err != nil || m.Status != outbox.StatusSent || m.XID == "" || m.XID == old || (wantXID != "" && m.XID != wantXID) {
				t.Errorf("%s: status %s, x id %q (%v); want sent with x id %q", key, m.Status, m.XID, err, wantXID)
			}
		}
		if st := s.Stats(); st.Sent != 3 {
			t.Errorf("Stats.Sent = %d, want 3", st.Sent)
		}
	})
}

// When X cannot be asked (429 or 5xx on the look-up), a lapsed reply is
// posted, as a lapsed DM is: a possible duplicate rather than a lost reply.
func TestLapsedReplyIsPostedWhenTheLookUpFails(t *testing.T) {
	eachVersion(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.enqueue(reply("tweet:1:reply_sold_out", "1790000000000000001", "Sold out.", outbox.PrioritySoldOut))
		cfg := outbox.Config{Lease: 2 * time.Second}
		if _, err := e.db.Outbox().Claim(ctx, outbox.ClaimRequest{Now: e.clock.Now(), Limit: 10, Lease: cfg.Lease, Budget: outbox.Budget{Window: time.Hour, PerAccount: 100, PerApp: 100}, MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(3 * time.Second)
		e.sim.FailNext(1, http.StatusServiceUnavailable) // the look-up, not the post
		drain(t, e.sender(cfg))
		if got := postsTo(e, "1790000000000000001"); len(got) != 1 {
			t.Errorf("replies = %q, want 1", got)
		}
		if e.status("tweet:1:reply_sold_out") != outbox.StatusSent {
			t.Error("not recorded as sent")
		}
		if !strings.Contains(e.logs.String(), "could not check X for a lapsed message") {
			t.Errorf("no warning logged: %s", e.logs)
		}
	})
}

// Two messages with the same text to one buyer (a cart's reminder steps):
// the first is sent and recorded; a sender claims the second and dies
// before sending it. The next sender must not take the first one's DM at
// X for the second's: it sends the second.
func TestLapsedDMIsNotTakenForAnEarlierOneWithTheSameText(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		const text = "Still thinking it over? Your cart: 1 × Tote, $18.00 in all."
		cfg := outbox.Config{Lease: 2 * time.Second}
		e.enqueue(dm("reminder:cart:7:1", "903", text, outbox.PriorityReminder))
		drain(t, e.sender(cfg))
		if got := len(e.sim.DMsTo("903")); got != 1 {
			t.Fatalf("step 1: DMs to 903 = %d, want 1", got)
		}
		e.clock.Advance(time.Second)
		e.enqueue(dm("reminder:cart:7:2", "903", text, outbox.PriorityReminder))
		ctx := context.Background()
		c, err := e.db.Outbox().Claim(ctx, outbox.ClaimRequest{Now: e.clock.Now(), Limit: 10, Lease: cfg.Lease, Budget: outbox.Budget{Window: time.Hour, PerAccount: 100, PerApp: 100}, MaxAge: time.Hour})
		if err != nil || len(c.Messages) != 1 {
			t.Fatalf("claim: %d, %v", len(c.Messages), err)
		}
		// The claiming sender dies before sending.
		e.clock.Advance(3 * time.Second)
		drain(t, e.sender(cfg))
		if got := len(e.sim.DMsTo("903")); got != 2 {
			t.Fatalf("DMs to 903 = %d, want 2 (step 2 sent after its claim lapsed)", got)
		}
		if e.status("reminder:cart:7:2") != outbox.StatusSent {
			t.Fatal("step 2 not recorded as sent")
		}
	})
}
