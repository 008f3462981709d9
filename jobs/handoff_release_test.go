package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashcart/hashcart/jobs"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

// A run stopped (shutdown) while a merchant is answering gives back every
// delivery it claimed and did not finish, with no attempt counted, so the
// next instance claims them at once instead of after the lease.
func TestHandoffStoppedMidRunGivesBackItsDeliveries(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		for _, id := range []string{"dlv_a", "dlv_b", "dlv_c"} {
			if err := db.Orders().EnqueueDelivery(ctx, id, "acme", 42, now); err != nil {
				t.Fatal(err)
			}
		}
		started := make(chan struct{}, 3)
		hangUp := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			select { // a slow merchant
			case <-r.Context().Done():
			case <-hangUp:
			}
		}))
		defer srv.Close()
		defer close(hangUp)
		job := &jobs.Handoff{Store: db.Orders(), Orders: fakeOrders{}, Client: srv.Client(), Now: time.Now,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Lease: time.Hour,
			Endpoint: func(string) (jobs.MerchantEndpoint, bool) {
				return jobs.MerchantEndpoint{URL: srv.URL, Secret: "s"}, true
			}}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { _, err := job.Run(runCtx); done <- err }()
		<-started
		stop()
		if err := <-done; err != nil {
			t.Fatalf("stopped run: %v", err)
		}
		again, err := db.Orders().ClaimDeliveries(ctx, time.Now().UTC(), 10, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 3 {
			t.Fatalf("claimable right after the stop: %d deliveries, want 3 (none left leased)", len(again))
		}
		for _, d := range again {
			if d.Attempts != 0 {
				t.Errorf("%s has %d attempts after a stop, want 0", d.DeliveryID, d.Attempts)
			}
		}
	})
}
