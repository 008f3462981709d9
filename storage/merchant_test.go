package storage_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

// sendReminder queues a reminder DM about target and marks it sent (or
// leaves it with status when status is not "sent").
func sendReminder(t *testing.T, db *storage.DB, key, buyerID string, target commerce.LinkTarget, status string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	err := db.Outbox().Enqueue(ctx, outbox.Message{Key: key, MerchantID: "acme", Kind: outbox.KindDM, Priority: outbox.PriorityReminder,
		RecipientID: buyerID, Text: "still want it? " + outbox.LinkPlaceholder,
		Link: &outbox.Link{BuyerID: buyerID, Target: target, ExpiresAt: now.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET status = ?, finished_at = ? WHERE msg_key = ?`, status, now, key); err != nil {
		t.Fatal(err)
	}
}

// The funnel counts each stage as defined: replies recorded once per event,
// holds, holds whose page was opened, paid orders, reminders sent (pending
// ones not), and reminded buyers who paid afterwards; only the merchant's,
// only within the period.
func TestFunnelCountsEachStageForTheMerchantAndPeriod(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop := newShop(t, db, clk)
		_, vinyl, tote := testCatalog()
		st := db.Shop()
		since := clk.Now().Add(-30 * 24 * time.Hour)

		reply := func(event, merchant, offer string, b commerce.Buyer, at time.Time) {
			t.Helper()
			if err := st.RecordReply(ctx, commerce.Reply{EventID: event, MerchantID: merchant, OfferID: offer, BuyerID: b.XUserID, Intent: commerce.IntentBuy, At: at}); err != nil {
				t.Fatal(err)
			}
		}
		reply("e-old", "acme", "vinyl", buyer(9), clk.Now().Add(-40*24*time.Hour)) // before the period
		reply("e1", "acme", "vinyl", buyer(1), clk.Now())
		reply("e1", "acme", "vinyl", buyer(1), clk.Now()) // the same event again
		reply("e2", "acme", "vinyl", buyer(2), clk.Now())
		reply("e3", "acme", "vinyl", buyer(1), clk.Now())
		reply("e4", "acme", "tote", buyer(3), clk.Now())
		reply("e5", "beta", "vinyl", buyer(4), clk.Now()) // another merchant

		first := placeOrder(t, db, shop, vinyl, buyer(1), 1, clk.Now()) // hold 1, opened, paid
		if h, err := st.Hold(ctx, first.HoldID); err != nil || h.LinkOpened {
			t.Fatalf("hold before its page was opened: %+v, %v; want not opened", h, err)
		}
		for i := 0; i < 3; i++ {
			if err := st.MarkLinkOpened(ctx, first.HoldID, clk.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if h, err := st.Hold(ctx, first.HoldID); err != nil || !h.LinkOpened {
			t.Fatalf("hold after its page was opened: %+v, %v; want opened (the page then skips the write)", h, err)
		}
		if _, err := db.Orders().ApplyPayment(ctx, paid("evt_1", first.ID, clk.Now())); err != nil {
			t.Fatal(err)
		}
		second, _, err := shop.Buy(ctx, commerce.Match{Offer: vinyl, Variant: "black", Quantity: 1}, buyer(2))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := shop.AddToCart(ctx, commerce.Match{Offer: tote, Quantity: 1}, buyer(3)); err != nil {
			t.Fatal(err)
		}
		cart, err := st.OpenCart(ctx, "acme", buyer(3).XUserID)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.MarkLinkOpened(ctx, 999, clk.Now()); !errors.Is(err, commerce.ErrNotFound) {
			t.Fatalf("opening an unknown hold: %v, want not found", err)
		}

		clk.Add(time.Hour)
		sendReminder(t, db, commerce.HoldReminderKey("acme", "vinyl", buyer(2).XUserID, 1), buyer(2).XUserID,
			commerce.LinkTarget{Kind: commerce.LinkHold, ID: second.ID}, "sent", clk.Now())
		sendReminder(t, db, commerce.CartReminderKey(cart.ID, 1), buyer(3).XUserID,
			commerce.LinkTarget{Kind: commerce.LinkCart, ID: cart.ID}, "sent", clk.Now())
		sendReminder(t, db, commerce.CartReminderKey(cart.ID, 2), buyer(3).XUserID,
			commerce.LinkTarget{Kind: commerce.LinkCart, ID: cart.ID}, "pending", clk.Now())
		clk.Add(time.Minute)
		// Buyer 2 comes back through the reminder and pays.
		o2, err := db.Orders().PlaceOrder(ctx, commerce.PlaceOrder{Hold: second, Title: vinyl.Title, Shipping: brooklyn, Provider: "sandbox", Now: clk.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Orders().ApplyPayment(ctx, paid("evt_2", o2.ID, clk.Now())); err != nil {
			t.Fatal(err)
		}

		got, err := st.Funnel(ctx, "acme", since)
		if err != nil {
			t.Fatal(err)
		}
		want := []commerce.OfferFunnel{
			{OfferID: "tote", Replies: 1, Reminders: 1},
			{OfferID: "vinyl", Replies: 3, Holds: 2, LinksOpened: 1, Paid: 2, Reminders: 1, Recovered: 1},
		}
		if len(got) != len(want) {
			t.Fatalf("funnel = %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("funnel[%d] = %+v, want %+v", i, got[i], want[i])
			}
		}
		if other, err := st.Funnel(ctx, "beta", since); err != nil || len(other) != 1 || other[0] != (commerce.OfferFunnel{OfferID: "vinyl", Replies: 1}) {
			t.Errorf("beta's funnel = %+v, %v; want its one reply only", other, err)
		}
		if later, _ := st.Funnel(ctx, "acme", clk.Now().Add(time.Minute)); len(later) != 0 {
			t.Errorf("funnel after everything = %+v, want empty", later)
		}
	})
}

// Stock reads the counters holds use: held and sold move with a hold and
// a payment.
func TestMerchantStockShowsHeldAndSoldPerVariant(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		o := placeOrder(t, db, shop, vinyl, buyer(1), 2, clk.Now())
		if _, err := db.Orders().ApplyPayment(ctx, paid("evt_1", o.ID, clk.Now())); err != nil {
			t.Fatal(err)
		}
		if _, _, err := shop.Buy(ctx, commerce.Match{Offer: vinyl, Variant: "red", Quantity: 1}, buyer(2)); err != nil {
			t.Fatal(err)
		}
		levels, err := db.Shop().MerchantStock(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, l := range levels {
			avail := "unlimited"
			if a := l.Available(); a != nil {
				avail = itoa(*a)
			}
			got[l.OfferID+"/"+l.Variant] = itoa(l.Held) + " held, " + itoa(l.Sold) + " sold, " + avail + " left"
		}
		want := map[string]string{
			"vinyl/black": "0 held, 0 sold, 30 left",
			"vinyl/red":   "1 held, 2 sold, 17 left",
			"tote/":       "0 held, 0 sold, 50 left",
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: %q, want %q", k, got[k], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("stock rows = %v", got)
		}
		if none, _ := db.Shop().MerchantStock(ctx, "beta"); len(none) != 0 {
			t.Errorf("beta's stock = %+v, want none", none)
		}
	})
}

// The page lists the newest orders of the merchant, with addresses.
func TestLatestMerchantOrdersNewestFirstAndOnlyTheMerchants(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		for i := 1; i <= 3; i++ {
			placeOrder(t, db, shop, vinyl, buyer(i), 1, clk.Now())
		}
		got, err := db.Orders().LatestMerchantOrders(ctx, "acme", 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != 3 || got[1].ID != 2 || got[0].Shipping != brooklyn {
			t.Fatalf("latest 2 = %+v", got)
		}
		if none, _ := db.Orders().LatestMerchantOrders(ctx, "beta", 10); len(none) != 0 {
			t.Fatalf("beta's orders = %+v", none)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
