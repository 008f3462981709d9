package bot_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashcart/hashcart/xsim"
)

// Replies matched to one offer are recorded once per event, whatever the
// answer (held, carted, variant asked, over the limit); replies that name
// no offer, or several, are not.
func TestRepliesMatchedToAnOfferAreRecordedOncePerEvent(t *testing.T) {
	now := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	h := newHarness(t, now)
	h.bot.Replies = h.db.Shop()

	h.reply(t, 1, "1001", "#BuyNow red")     // held
	h.reply(t, 2, "1001", "#BuyNow")         // which variant?
	h.reply(t, 3, "1001", "#BuyNow red x5")  // over the limit
	h.reply(t, 4, "1002", "#AddToCart TOTE") // cart
	h.reply(t, 5, "1002", "#BuyNow")         // tote or poster: not one offer
	h.reply(t, 6, "1001", "nice record!")    // no tag
	again := xsim.TweetCreate(merchantID, xsim.Tweet{ID: "6001", Text: "#BuyNow black", UserID: "907", ScreenName: "shopper7",
		InReplyToStatusID: "1001", InReplyToUserID: merchantID})
	h.deliver(t, again)
	h.deliver(t, again) // X delivered the event twice

	got, err := h.db.Shop().Funnel(context.Background(), "acme", now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]string{}
	for _, f := range got {
		counts[f.OfferID] = fmt.Sprintf("%d replies, %d holds", f.Replies, f.Holds)
	}
	want := map[string]string{"signed-vinyl": "4 replies, 2 holds", "tote": "1 replies, 0 holds"}
	if len(counts) != len(want) || counts["signed-vinyl"] != want["signed-vinyl"] || counts["tote"] != want["tote"] {
		t.Fatalf("funnel = %v, want %v", counts, want)
	}
}
