package bot_test

import (
	"testing"
	"time"
)

// BenchmarkBuyNowReply is the pipeline benchmark's event in the bot: a
// new shopper's "#BuyNow" reply on an offer without a stock limit, handled
// in its own transaction on SQLite (hold, buyer, reply record, DM queued).
func BenchmarkBuyNowReply(b *testing.B) {
	h := newHarness(b, time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if msgs := h.reply(b, 100+i, "1002", "@acme #BuyNow POSTER"); len(msgs) != 1 {
			b.Fatalf("reply %d queued %d messages, want the DM", i, len(msgs))
		}
	}
}
