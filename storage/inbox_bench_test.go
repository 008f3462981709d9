package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/storage/storagetest"
)

// BenchmarkInsertEvents measures one group commit of 64 events, the size a
// busy webhook gathers at 64 in flight, and of 256 (the open-loop benchmark
// keeps up to 256 in flight); ns/op is per commit.
func BenchmarkInsertEvents(b *testing.B) {
	for _, d := range storagetest.Drivers() {
		for _, size := range []int{64, 256} {
			b.Run(fmt.Sprintf("%s/%d", d, size), func(b *testing.B) { benchmarkInsertEvents(b, d, size) })
		}
	}
}

func benchmarkInsertEvents(b *testing.B, d string, size int) {
	db := storagetest.Open(b, d, storagetest.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		evs := make([]inbox.Event, size)
		for j := range evs {
			id := fmt.Sprintf("%d", i*size+j)
			evs[j] = inbox.Event{ID: "tweet_create:" + id, ForUserID: "1", Kind: inbox.KindTweetCreate, Payload: []byte(`{"id_str":"` + id + `","text":"@acme #BuyNow red x2"}`)}
		}
		if _, err := db.Inbox().InsertEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkInboxClaimPastBackoff runs processing passes of 16 events in an
// inbox where 5,000 failed events wait out their retry backoff, as after a
// burst of events that a handler could not process. ns/op is per pass; the
// 16 events go back to pending after each.
func BenchmarkInboxClaimPastBackoff(b *testing.B) {
	for _, d := range storagetest.Drivers() {
		b.Run(d, func(b *testing.B) {
			db := storagetest.Open(b, d, storagetest.Options{})
			ctx := context.Background()
			for i := range 6 {
				evs := make([]inbox.Event, 1000)
				for j := range evs {
					id := fmt.Sprintf("%d", i*1000+j)
					evs[j] = inbox.Event{ID: "tweet_create:" + id, ForUserID: "1", Kind: inbox.KindTweetCreate, Payload: []byte(`{"id_str":"` + id + `"}`)}
				}
				if _, err := db.Inbox().InsertEvents(ctx, evs); err != nil {
					b.Fatal(err)
				}
			}
			later := time.Now().Add(time.Hour)
			if err := db.ExecForTest(ctx, `UPDATE inbox_events SET attempts = 1, next_attempt_at = ? WHERE id <= 5000`, later); err != nil {
				b.Fatal(err)
			}
			handle := func(context.Context, inbox.Event) error { return nil }
			retry := func(inbox.Event, error) (time.Time, bool) { return later, false }
			for b.Loop() {
				n, err := db.Inbox().ProcessDue(ctx, 16, handle, retry)
				if err != nil || n != 16 {
					b.Fatalf("pass = %d events, %v", n, err)
				}
				if err := db.ExecForTest(ctx, `UPDATE inbox_events SET status = 'pending' WHERE status = 'done'`); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
