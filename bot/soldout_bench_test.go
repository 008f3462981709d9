package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/xsim"
)

// BenchmarkSoldOutReplies is the tail of a limited drop, the case merchants
// care most about: "#BuyNow" replies from new shoppers after the offer sold
// out. The events are processed from the inbox as the workers process them
// on SQLite (claimed 16 at a time, one transaction a batch), and each one
// joins the waitlist and queues a "sold out" answer in the real outbox,
// where all but the first collapse into one. ns/op is per reply.
func BenchmarkSoldOutReplies(b *testing.B) {
	ctx := context.Background()
	h := newHarness(b, time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	h.bot.Shop.Waitlist = h.db.Shop()
	h.bot.Outbox = h.db.Outbox()
	h.bot.Replies = h.db.Shop()
	for i := range 10 { // the tote's 10 units
		h.reply(b, i, "1002", "@acme #BuyNow TOTE")
	}
	store := h.db.Inbox()
	handle := func(ctx context.Context, ev inbox.Event) error { return h.bot.HandleEvent(ctx, ev) }
	retry := func(ev inbox.Event, err error) (time.Time, bool) {
		b.Fatalf("event %s failed: %v", ev.ID, err)
		return time.Time{}, true
	}
	events := make([]inbox.Event, 0, b.N)
	for i := range b.N {
		body, _ := json.Marshal(xsim.TweetCreate(merchantID, xsim.Tweet{ID: fmt.Sprint(900000 + i), Text: "@acme #BuyNow TOTE",
			UserID: fmt.Sprint(100000 + i), ScreenName: fmt.Sprintf("late%d", i), InReplyToStatusID: "1002", InReplyToUserID: merchantID}))
		_, evs, err := inbox.Split(body, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		events = append(events, evs...)
	}
	if _, err := store.InsertEvents(ctx, events); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	done := 0
	for done < b.N {
		n, err := store.ProcessDue(ctx, 16, handle, retry)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("processed %d of %d, then nothing was due", done, b.N)
		}
		done += n
	}
	b.StopTimer()
	offer, _ := h.bot.Catalog().Offer("acme", "tote")
	waiting, err := h.db.Shop().NextWaiting(ctx, offer, offer.StockKey(""), b.N+1)
	if err != nil {
		b.Fatal(err)
	}
	if len(waiting) != b.N {
		b.Fatalf("%d shoppers on the waitlist, want %d", len(waiting), b.N)
	}
	if s, err := h.db.OpsSnapshot(ctx); err != nil || s.InboxPending != 0 {
		b.Fatalf("inbox still holds %d events (%v)", s.InboxPending, err)
	}
}
