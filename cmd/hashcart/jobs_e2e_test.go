package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
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

// A 10-unit drop, 30 buyers, 4 holds expire: the next 4 waitlisted buyers
// get holds, in the order they replied.
func TestExpiredHoldsGoToTheWaitlistInOrder(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "outbox: { poll_interval: 50ms }\ncheckout: { hold: 6s }\njobs: { expire_holds: \"@every 1s\" }")
	for i := 1; i <= 30; i++ {
		s.deliver(t, replyTo("1006", i, "#BuyNow")) // one at a time: the order of the queue
	}
	dms := wait(t, "the 10 DMs", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 10) })
	links := map[string]string{}
	for _, dm := range dms {
		links[dm.RecipientID] = linkRE.FindString(dm.Text)
	}
	for i := 1; i <= 6; i++ { // six pay; four let their holds run out
		payOnThePage(t, links[fmt.Sprint(900+i)])
	}
	posts := s.sim.Posts()
	waitlisted := 0
	for _, p := range posts {
		if strings.Contains(p.Text, "waitlist") {
			waitlisted++
		}
	}
	if waitlisted == 0 {
		t.Fatalf("no sold-out reply mentions the waitlist: %+v", posts)
	}
	var turns []xsim.DM
	deadline := time.Now().Add(20 * time.Second)
	for len(turns) < 4 && time.Now().Before(deadline) {
		turns = turns[:0]
		for _, dm := range s.sim.DMs() {
			if strings.Contains(dm.Text, "freed up") {
				turns = append(turns, dm)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(turns) != 4 {
		t.Fatalf("%d waitlist DMs, want 4", len(turns))
	}
	// The DMs of one pass are sent concurrently, so their arrival order says
	// nothing; the order of the turns is the order of the new holds.
	got := map[string]bool{}
	for _, dm := range turns {
		got[dm.RecipientID] = true
		if linkRE.FindString(dm.Text) == "" {
			t.Fatalf("waitlist DM without a link: %q", dm.Text)
		}
	}
	var last int64
	for i := 0; i < 4; i++ {
		buyer := fmt.Sprint(911 + i)
		if !got[buyer] {
			t.Fatalf("waitlist DMs went to %v, want 911 to 914 (the first four to reply after the sell-out)", got)
		}
		h, err := s.db.Shop().LatestActiveHold(context.Background(), "acme", buyer, time.Now())
		if err != nil {
			t.Fatalf("buyer %s has no hold: %v", buyer, err)
		}
		if h.ID <= last {
			t.Fatalf("buyer %s got hold %d after hold %d: not in the order of the replies", buyer, h.ID, last)
		}
		last = h.ID
	}
	time.Sleep(1500 * time.Millisecond) // another tick: nobody else is served
	n := 0
	for _, dm := range s.sim.DMs() {
		if strings.Contains(dm.Text, "freed up") {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("%d waitlist DMs after another tick, want still 4", n)
	}
	left, _ := s.db.Shop().Remaining(context.Background(), &commerce.Offer{MerchantID: "acme", ID: "ten"})
	if *left[""] != 0 {
		t.Fatalf("remaining = %d, want 0 (6 sold, 4 held again)", *left[""])
	}
}

// A paid order reaches the merchant's order_webhook, signed, once.
func TestPaidOrderIsHandedToTheMerchant(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	var body []byte
	var sig string
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		b, _ := io.ReadAll(r.Body)
		got[r.Header.Get("Hashcart-Delivery-Id")]++
		body, sig = b, r.Header.Get("Hashcart-Signature")
	}))
	defer merchant.Close()
	t.Setenv("E2E_ORDER_WEBHOOK", merchant.URL)
	s := startShop(t, storage.DriverSQLite, "outbox: { poll_interval: 50ms }\njobs: { handoff: \"@every 1s\" }")
	s.deliver(t, replyTo("1001", 1, "#BuyNow red"))
	payOnThePage(t, s.linkFor(t, 1))
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // further ticks deliver nothing more
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got["dlv_HC-000001_paid"] != 1 {
		t.Fatalf("merchant got %v, want dlv_HC-000001_paid once", got)
	}
	ts, _ := strconv.ParseInt(strings.TrimPrefix(strings.Split(sig, ",")[0], "t="), 10, 64)
	if commerce.SignDelivery("whsec_e2e", time.Unix(ts, 0), body) != sig {
		t.Fatalf("signature %q does not verify", sig)
	}
	var o commerce.HandoffOrder
	if err := json.Unmarshal(body, &o); err != nil || o.ID != "HC-000001" || o.Shipping.City != "Brooklyn" || o.Status != "paid" {
		t.Fatalf("delivered %s (%v)", body, err)
	}
}

// A cart left alone gets one reminder per step, by DM, with its link.
func TestLeftCartGetsOneReminderPerStep(t *testing.T) {
	s := startShop(t, storage.DriverSQLite, "outbox: { poll_interval: 50ms }\njobs: { reminders: \"@every 1s\" }\nreminders: { after: [2s] }")
	s.deliver(t, replyTo("1001", 1, "#AddToCart black"))
	wait(t, "the cart DM", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 1) })
	dms := wait(t, "the reminder", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 2) })
	if !strings.Contains(dms[1].Text, "Still thinking it over?") || !strings.Contains(dms[1].Text, "1 × Signed vinyl (black)") || linkRE.FindString(dms[1].Text) == "" {
		t.Fatalf("reminder %q", dms[1].Text)
	}
	time.Sleep(3 * time.Second) // more ticks: nothing more
	if n := len(s.sim.DMs()); n != 2 {
		t.Fatalf("%d DMs, want the cart and one reminder", n)
	}
}
