package storage_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

var brooklyn = commerce.Address{Name: "Ada Lovelace", Line1: "221 Kent Avenue", City: "Brooklyn", Region: "NY", PostalCode: "11249", Country: "US"}

func placeOrder(t *testing.T, db *storage.DB, shop *commerce.Shop, vinyl *commerce.Offer, b commerce.Buyer, q int, now time.Time) commerce.Order {
	t.Helper()
	h, _, err := shop.Buy(context.Background(), commerce.Match{Offer: vinyl, Variant: "red", Quantity: q}, b)
	if err != nil {
		t.Fatal(err)
	}
	o, err := db.Orders().PlaceOrder(context.Background(), commerce.PlaceOrder{Hold: h, Title: vinyl.Title, Shipping: brooklyn,
		Contact: commerce.Contact{Email: "ada@example.com"}, Provider: "sandbox", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func paid(eventID string, orderID int64, now time.Time) commerce.PaymentOutcome {
	return commerce.PaymentOutcome{EventID: eventID, OrderID: orderID, Paid: true, PaymentRef: "ch_" + eventID,
		Method: &commerce.SavedMethod{Provider: "sandbox", Brand: "Visa", Last4: "4242"}, Now: now}
}

func TestPaymentTurnsTheHoldIntoASaleOnce(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		o := placeOrder(t, db, shop, vinyl, buyer(1), 2, clk.Now())
		if o.Status != commerce.OrderPending || o.Total.Amount != 5000 || o.Shipping != brooklyn {
			t.Fatalf("placed order = %+v", o)
		}
		for i := 0; i < 3; i++ {
			res, err := db.Orders().ApplyPayment(ctx, paid("evt_1", o.ID, clk.Now()))
			if err != nil {
				t.Fatal(err)
			}
			if res.Duplicate != (i > 0) || res.Order.Status != commerce.OrderPaid || res.NeedsRefund {
				t.Fatalf("delivery %d: %+v", i+1, res)
			}
		}
		left, _ := db.Shop().Remaining(ctx, vinyl)
		h, _ := db.Shop().Hold(ctx, o.HoldID)
		if *left["red"] != 18 || h.Status != commerce.HoldConverted {
			t.Fatalf("after payment: red left %d, hold %s; want 18 and converted", *left["red"], h.Status)
		}
		if n := db.CountForTest(ctx, "SELECT sold FROM stock WHERE offer_id = 'vinyl' AND variant = 'red'"); n != 2 {
			t.Fatalf("sold = %d, want 2", n)
		}
		got, _ := db.Orders().Order(ctx, o.ID)
		if len(got.Timeline) != 2 || got.Timeline[1].Status != commerce.OrderPaid || got.Method.Last4 != "4242" {
			t.Fatalf("timeline %+v method %+v", got.Timeline, got.Method)
		}
	})
}

func TestLatePaymentIsRefundedWhenTheStockIsGone(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		late := placeOrder(t, db, shop, vinyl, buyer(1), 2, clk.Now())
		clk.Add(16 * time.Minute) // the hold runs out; others take every unit
		for i := 2; i <= 11; i++ {
			if _, _, err := shop.Buy(ctx, commerce.Match{Offer: vinyl, Variant: "red", Quantity: 2}, buyer(i)); err != nil {
				t.Fatal(err)
			}
		}
		res, err := db.Orders().ApplyPayment(ctx, paid("evt_late", late.ID, clk.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if !res.NeedsRefund || res.Order.Status != commerce.OrderRefunded {
			t.Fatalf("late payment = %+v, want refunded", res)
		}
		left, _ := db.Shop().Remaining(ctx, vinyl)
		if *left["red"] != 0 {
			t.Fatalf("red left = %d, want 0 (no oversell)", *left["red"])
		}
	})
}

func TestLatePaymentIsAcceptedWhileStockRemains(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		o := placeOrder(t, db, shop, vinyl, buyer(1), 2, clk.Now())
		clk.Add(20 * time.Minute)
		if _, err := db.Shop().ReleaseExpired(ctx, clk.Now(), 10); err != nil {
			t.Fatal(err)
		}
		res, err := db.Orders().ApplyPayment(ctx, paid("evt_2", o.ID, clk.Now()))
		if err != nil || res.NeedsRefund || res.Order.Status != commerce.OrderPaid {
			t.Fatalf("late payment with stock left = %+v, %v; want paid", res, err)
		}
		left, _ := db.Shop().Remaining(ctx, vinyl)
		if *left["red"] != 18 {
			t.Fatalf("red left = %d, want 18", *left["red"])
		}
	})
}

func TestDeclinedPaymentLeavesTheOrderPendingAndTheHoldHeld(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		o := placeOrder(t, db, shop, vinyl, buyer(1), 1, clk.Now())
		res, err := db.Orders().ApplyPayment(ctx, commerce.PaymentOutcome{EventID: "evt_d", OrderID: o.ID, Reason: "Your card was declined.", Now: clk.Now()})
		if err != nil || res.Order.Status != commerce.OrderPending {
			t.Fatalf("declined = %+v, %v", res, err)
		}
		h, _ := db.Shop().Hold(ctx, o.HoldID)
		if h.Status != commerce.HoldActive {
			t.Fatalf("hold after a decline = %s, want active", h.Status)
		}
		if last := res.Order.Timeline[len(res.Order.Timeline)-1]; !strings.Contains(last.Note, "declined") {
			t.Fatalf("timeline = %+v", res.Order.Timeline)
		}
		if res, err = db.Orders().ApplyPayment(ctx, paid("evt_ok", o.ID, clk.Now())); err != nil || res.Order.Status != commerce.OrderPaid {
			t.Fatalf("retry = %+v, %v", res, err)
		}
	})
}

func TestOrderStatusFollowsTheStateMachine(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		o := placeOrder(t, db, shop, vinyl, buyer(1), 1, clk.Now())
		if _, err := db.Orders().SetOrderStatus(ctx, o.ID, commerce.OrderFulfilled, "", clk.Now()); !errors.Is(err, commerce.ErrConflict) {
			t.Fatalf("pending -> fulfilled: %v, want conflict", err)
		}
		db.Orders().ApplyPayment(ctx, paid("evt_3", o.ID, clk.Now()))
		if got, err := db.Orders().SetOrderStatus(ctx, o.ID, commerce.OrderFulfilled, "shipped", clk.Now()); err != nil || got.Status != commerce.OrderFulfilled {
			t.Fatalf("paid -> fulfilled: %+v, %v", got, err)
		}
		if _, err := db.Orders().SetOrderStatus(ctx, o.ID, commerce.OrderPending, "", clk.Now()); !errors.Is(err, commerce.ErrConflict) {
			t.Fatalf("fulfilled -> pending: %v, want conflict", err)
		}
	})
}

// Addresses and contacts are stored only sealed: a scan of every table
// finds none of them, and they read back intact.
func TestNoTableHoldsAPlaintextAddress(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	for _, d := range storagetest.Drivers() {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			driver, dsn := storagetest.DSN(t, d)
			db, err := storage.Open(ctx, driver, dsn, storage.Options{Now: clk.Now, Sealer: storagetest.TestKeyring(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			shop := newShop(t, db, clk)
			_, vinyl, _ := testCatalog()
			o := placeOrder(t, db, shop, vinyl, buyer(1), 1, clk.Now())
			db.Orders().ApplyPayment(ctx, paid("evt_4", o.ID, clk.Now()))
			if err := db.Orders().SaveDetails(ctx, buyer(1).XUserID, commerce.SavedDetails{Shipping: brooklyn, Contact: commerce.Contact{Email: "ada@example.com"}}, clk.Now()); err != nil {
				t.Fatal(err)
			}
			all := storagetest.AllText(t, driver, dsn)
			for _, secret := range []string{"Kent Avenue", "Ada Lovelace", "11249", "ada@example.com"} {
				if strings.Contains(all, secret) {
					t.Errorf("%q is stored in the clear", secret)
				}
			}
			saved, err := db.Orders().SavedDetails(ctx, buyer(1).XUserID)
			if err != nil || saved.Shipping != brooklyn {
				t.Fatalf("saved details read back as %+v, %v", saved, err)
			}
			if err := db.Shop().Forget(ctx, buyer(1).XUserID, clk.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Orders().SavedDetails(ctx, buyer(1).XUserID); !errors.Is(err, commerce.ErrNotFound) {
				t.Fatalf("after forget: %v, want not found", err)
			}
		})
	}
}

func TestExpiredPaymentSessionCancelsTheOrderAndReturnsTheStock(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		o := placeOrder(t, db, shop, vinyl, buyer(1), 2, clk.Now())
		if err := db.Orders().CancelPendingOrder(ctx, o.ID, clk.Now()); err != nil {
			t.Fatal(err)
		}
		got, _ := db.Orders().Order(ctx, o.ID)
		h, _ := db.Shop().Hold(ctx, o.HoldID)
		left, _ := db.Shop().Remaining(ctx, vinyl)
		if got.Status != commerce.OrderCancelled || h.Status != commerce.HoldReleased || *left["red"] != 20 {
			t.Fatalf("after the session expired: order %s, hold %s, red left %d", got.Status, h.Status, *left["red"])
		}
		paid := placeOrder(t, db, shop, vinyl, buyer(2), 1, clk.Now())
		db.Orders().ApplyPayment(ctx, commerce.PaymentOutcome{EventID: "e", OrderID: paid.ID, Paid: true, Now: clk.Now()})
		if err := db.Orders().CancelPendingOrder(ctx, paid.ID, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Orders().Order(ctx, paid.ID); got.Status != commerce.OrderPaid {
			t.Fatalf("a paid order was cancelled: %s", got.Status)
		}
	})
}

func TestPlaceOrderExtendsTheHoldToHoldUntilNeverShortensIt(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		h, _, err := shop.Buy(ctx, commerce.Match{Offer: vinyl, Variant: "red", Quantity: 1}, commerce.Buyer{XUserID: "901"})
		if err != nil {
			t.Fatal(err)
		}
		until := clk.now.Add(32 * time.Minute)
		for _, u := range []time.Time{until, clk.now.Add(20 * time.Minute)} {
			if _, err := db.Orders().PlaceOrder(ctx, commerce.PlaceOrder{Hold: h, Title: vinyl.Title, Shipping: brooklyn,
				Contact: commerce.Contact{Email: "ada@example.com"}, Provider: "stripe", Now: clk.now, HoldUntil: u}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.Shop().Hold(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.ExpiresAt.Equal(until) {
			t.Fatalf("hold ends %s, want %s (extended once, never shortened)", got.ExpiresAt, until)
		}
	})
}
