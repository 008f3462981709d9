package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/jobs"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

type slowJob struct {
	runs    atomic.Int32
	release chan struct{}
}

func (j *slowJob) Name() string { return "slow" }
func (j *slowJob) Run(ctx context.Context) (int, error) {
	j.runs.Add(1)
	<-j.release
	return 1, nil
}

func TestOverlappingRunIsSkipped(t *testing.T) {
	s := jobs.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	j := &slowJob{release: make(chan struct{})}
	if err := s.Add("@every 1s", j); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	time.Sleep(3500 * time.Millisecond) // three ticks of the real cron clock
	if n := j.runs.Load(); n != 1 {
		t.Fatalf("%d runs while the first was still going, want 1", n)
	}
	close(j.release)
	cancel()
	<-done
}

func TestExpireHoldsReleasesEveryExpiredHold(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	storagetest.Each(t, storagetest.Options{Now: clock}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		stock := 30
		o := &commerce.Offer{MerchantID: "acme", ID: "print", Title: "Print", Price: commerce.Money{Amount: 1000, Currency: "USD"}, Stock: &stock}
		cat := commerce.NewCatalog([]*commerce.Merchant{{ID: "acme", XUserID: "1", Currency: "USD", Offers: []*commerce.Offer{o}}})
		if err := db.Shop().SyncStock(ctx, cat); err != nil {
			t.Fatal(err)
		}
		shop := &commerce.Shop{Holds: db.Shop(), Carts: db.Shop(), HoldFor: 15 * time.Minute, Now: clock}
		for i := 0; i < 25; i++ {
			if _, _, err := shop.Buy(ctx, commerce.Match{Offer: o, Quantity: 1}, commerce.Buyer{XUserID: fmt.Sprint(100 + i)}); err != nil {
				t.Fatal(err)
			}
		}
		job := &jobs.ExpireHolds{Holds: db.Shop(), Now: clock, Batch: 10}
		if n, err := job.Run(ctx); err != nil || n != 0 {
			t.Fatalf("before expiry: released %d, %v", n, err)
		}
		mu.Lock()
		now = now.Add(16 * time.Minute)
		mu.Unlock()
		if n, err := job.Run(ctx); err != nil || n != 25 {
			t.Fatalf("after expiry: released %d, %v; want 25 in batches of 10", n, err)
		}
		left, _ := db.Shop().Remaining(ctx, o)
		if *left[""] != 30 {
			t.Fatalf("remaining = %d, want all 30 back", *left[""])
		}
		if n, _ := job.Run(ctx); n != 0 {
			t.Fatalf("second run released %d, want 0", n)
		}
	})
}
