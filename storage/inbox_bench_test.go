package storage_test

import (
	"context"
	"fmt"
	"testing"

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
