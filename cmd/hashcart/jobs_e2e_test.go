package main

import (
	"context"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/xsim"
)

// An unpaid hold's units come back to stock within a tick of its expiry,
// with no other activity.
func TestExpiredHoldReturnsItsStockWithinATick(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "outbox: { poll_interval: 50ms }\ncheckout: { hold: 2s }\njobs: { expire_holds: \"@every 1s\" }")
	s.deliver(t, replyTo("1001", 1, "#BuyNow red x2"))
	wait(t, "the DM", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 1) })
	red := &commerce.Offer{MerchantID: "acme", ID: "signed-vinyl"}
	left, _ := s.db.Shop().Remaining(context.Background(), red)
	if *left["red"] != 38 {
		t.Fatalf("red left while held = %d, want 38", *left["red"])
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		left, _ = s.db.Shop().Remaining(context.Background(), red)
		if *left["red"] == 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("red left 10 s after a 2 s hold = %d, want 40", *left["red"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	if h, _ := s.db.Shop().Hold(context.Background(), 1); h.Status != commerce.HoldExpired {
		t.Fatalf("hold status = %s, want expired", h.Status)
	}
}
