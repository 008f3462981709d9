package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/storage/storagetest"
)

// BenchmarkInsertEvents measures one group commit of 64 events, the size a
// busy webhook gathers; ns/op is per commit.
func BenchmarkInsertEvents(b *testing.B) {
	for _, d := range storagetest.Drivers() {
		b.Run(d, func(b *testing.B) {
			db := storagetest.Open(b, d, storagetest.Options{})
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				evs := make([]inbox.Event, 64)
				for j := range evs {
					id := fmt.Sprintf("%d", i*64+j)
					evs[j] = inbox.Event{ID: "tweet_create:" + id, ForUserID: "1", Kind: inbox.KindTweetCreate, Payload: []byte(`{"id_str":"` + id + `","text":"@acme #BuyNow red x2"}`)}
				}
				if _, err := db.Inbox().InsertEvents(ctx, evs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
