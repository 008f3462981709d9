package storage_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

// cartCatalog is testCatalog with a print of which one unit is left.
func cartCatalog() (cat *commerce.Catalog, vinyl, tote, last *commerce.Offer) {
	_, vinyl, tote = testCatalog()
	last = &commerce.Offer{MerchantID: "acme", ID: "last", Title: "Last print", Price: commerce.Money{Amount: 4000, Currency: "USD"}, Stock: intp(1), PostIDs: []string{"3"}}
	m := &commerce.Merchant{ID: "acme", XUserID: "100", Currency: "USD", Offers: []*commerce.Offer{vinyl, tote, last}}
	return commerce.NewCatalog([]*commerce.Merchant{m}), vinyl, tote, last
}

func newCartShop(t *testing.T, db *storage.DB, clk *clock) (*commerce.Shop, *commerce.Catalog) {
	t.Helper()
	cat, _, _, _ := cartCatalog()
	if err := db.Shop().SyncStock(context.Background(), cat); err != nil {
		t.Fatal(err)
	}
	return &commerce.Shop{Holds: db.Shop(), Carts: db.Shop(), HoldFor: 15 * time.Minute, Now: clk.Now}, cat
}

func fillCart(t *testing.T, shop *commerce.Shop, b commerce.Buyer, lines ...commerce.Match) commerce.Cart {
	t.Helper()
	var c commerce.Cart
	for _, m := range lines {
		var err error
		if c, err = shop.AddToCart(context.Background(), m, b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func remaining(t *testing.T, db *storage.DB, o *commerce.Offer, key string) int {
	t.Helper()
	left, err := db.Shop().Remaining(context.Background(), o)
	if err != nil || left[key] == nil {
		t.Fatalf("remaining %s %q: %v, %v", o.ID, key, left, err)
	}
	return *left[key]
}

// Checking out holds every line in one go, marks the cart checked out, and
// a second press (or a second instance) holds nothing more.
func TestCartCheckoutHoldsEveryLineOnce(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop, cat := newCartShop(t, db, clk)
		_, vinyl, tote, _ := cartCatalog()
		// Two variants of one offer: the limit (2) counts both lines.
		c := fillCart(t, shop, buyer(1), commerce.Match{Offer: vinyl, Variant: "red", Quantity: 1},
			commerce.Match{Offer: vinyl, Variant: "black", Quantity: 1}, commerce.Match{Offer: tote, Quantity: 3})
		for i := 0; i < 2; i++ {
			holds, err := shop.CheckOutCart(ctx, c, cat, nil)
			if err != nil {
				t.Fatalf("press %d: %v", i+1, err)
			}
			if len(holds) != 3 || holds[0].CartID != c.ID || holds[2].OfferID != "tote" || holds[2].Quantity != 3 || holds[0].Status != commerce.HoldActive {
				t.Fatalf("press %d: holds = %+v", i+1, holds)
			}
		}
		if r, b, to := remaining(t, db, vinyl, "red"), remaining(t, db, vinyl, "black"), remaining(t, db, tote, ""); r != 19 || b != 29 || to != 47 {
			t.Fatalf("stock left red %d black %d tote %d, want 19 29 47 (held once)", r, b, to)
		}
		got, _ := db.Shop().Cart(ctx, c.ID)
		if got.Status != commerce.CartCheckedOut {
			t.Fatalf("cart status = %s", got.Status)
		}
		if _, err := db.Shop().OpenCart(ctx, "acme", buyer(1).XUserID); !errors.Is(err, commerce.ErrNotFound) {
			t.Fatalf("open cart after checkout: %v, want none", err)
		}
		// A checked-out cart is not reminded of.
		var due []commerce.CartReminder
		_ = db.InTx(ctx, func(ctx context.Context) error {
			due, _ = db.Shop().DueCartReminders(ctx, 0, clk.Now().Add(-48*time.Hour), clk.Now().Add(time.Hour), commerce.ReminderCursor{}, 10)
			return nil
		})
		if len(due) != 0 {
			t.Fatalf("reminders due for a checked-out cart: %+v", due)
		}
		// Its holds are not the buyer's "latest hold" of a DM "buy".
		if h, err := db.Shop().LatestActiveHold(ctx, "acme", buyer(1).XUserID, clk.Now()); !errors.Is(err, commerce.ErrNotFound) {
			t.Fatalf("latest #BuyNow hold = %+v, %v; want none", h, err)
		}
		if _, err := shop.ChangeCartLine(ctx, got, cat, "tote", "", 1); !errors.Is(err, commerce.ErrUsed) {
			t.Fatalf("changing a checked-out cart: %v, want ErrUsed", err)
		}
	})
}

// A line that cannot be held (sold out, over the limit, ended) stops the
// checkout with nothing held and the cart unchanged; the buyer may then
// leave those lines out and check out the rest.
func TestCartCheckoutNamesEveryLineItCannotHold(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop, cat := newCartShop(t, db, clk)
		_, vinyl, tote, last := cartCatalog()
		c := fillCart(t, shop, buyer(1), commerce.Match{Offer: tote, Quantity: 2}, commerce.Match{Offer: last, Quantity: 1},
			commerce.Match{Offer: vinyl, Variant: "red", Quantity: 2})
		// Meanwhile someone buys the last print, and the buyer holds a red
		// vinyl by #BuyNow: the cart's 2 red would pass the limit of 2.
		if _, _, err := shop.Buy(ctx, commerce.Match{Offer: last, Quantity: 1}, buyer(2)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := shop.Buy(ctx, commerce.Match{Offer: vinyl, Variant: "red", Quantity: 1}, buyer(1)); err != nil {
			t.Fatal(err)
		}
		_, err := shop.CheckOutCart(ctx, c, cat, nil)
		var ce *commerce.CartCheckoutError
		if !errors.As(err, &ce) || len(ce.Problems) != 2 {
			t.Fatalf("checkout: %v, want two lines named", err)
		}
		var le *commerce.LimitError
		if ce.Problems[0].Line.OfferID != "last" || !errors.Is(ce.Problems[0].Err, commerce.ErrSoldOut) ||
			ce.Problems[1].Line.OfferID != "vinyl" || !errors.As(ce.Problems[1].Err, &le) || le.Remaining != 1 {
			t.Fatalf("problems = %+v", ce.Problems)
		}
		if to := remaining(t, db, tote, ""); to != 50 {
			t.Fatalf("tote left %d, want 50: nothing is held when a line fails", to)
		}
		if got, _ := db.Shop().Cart(ctx, c.ID); got.Status != commerce.CartOpen || len(got.Lines) != 3 {
			t.Fatalf("cart after a failed checkout = %+v, want open with 3 lines", got)
		}
		// The buyer lowers the vinyl to 1 and leaves the print out.
		c, err = shop.ChangeCartLine(ctx, c, cat, "vinyl", "red", 1)
		if err != nil || c.Units() != 4 {
			t.Fatalf("change line: %+v, %v", c, err)
		}
		holds, err := shop.CheckOutCart(ctx, c, cat, map[string]bool{"last|": true})
		if err != nil || len(holds) != 2 || holds[0].OfferID != "tote" || holds[1].OfferID != "vinyl" {
			t.Fatalf("checkout without the print: %+v, %v", holds, err)
		}
		if r, to := remaining(t, db, vinyl, "red"), remaining(t, db, tote, ""); r != 18 || to != 48 {
			t.Fatalf("stock left red %d tote %d, want 18 48", r, to)
		}
		// Every line left out: nothing to check out.
		c2 := fillCart(t, shop, buyer(3), commerce.Match{Offer: tote, Quantity: 1})
		if _, err := shop.CheckOutCart(ctx, c2, cat, map[string]bool{"tote|": true}); !errors.Is(err, commerce.ErrInvalid) {
			t.Fatalf("all lines skipped: %v, want ErrInvalid", err)
		}
		// An offer gone from the catalog is named as ended.
		smaller := commerce.NewCatalog([]*commerce.Merchant{{ID: "acme", XUserID: "100", Currency: "USD", Offers: []*commerce.Offer{vinyl}}})
		if _, err := shop.CheckOutCart(ctx, c2, smaller, nil); !errors.As(err, &ce) || !errors.Is(ce.Problems[0].Err, commerce.ErrEnded) {
			t.Fatalf("ended offer: %v", err)
		}
	})
}

// Buyers whose carts hold the last unit check out at once: one gets it,
// every other is told it sold out, and the stock is never oversold.
func TestCartsCompetingForTheLastUnitNeverOversell(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now, MaxOpenConns: 10}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop, cat := newCartShop(t, db, clk)
		_, _, tote, last := cartCatalog()
		const buyers = 8
		carts := make([]commerce.Cart, buyers)
		for i := range carts {
			carts[i] = fillCart(t, shop, buyer(i), commerce.Match{Offer: tote, Quantity: 1}, commerce.Match{Offer: last, Quantity: 1})
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, soldOut := 0, 0
		for i := range carts {
			wg.Add(1)
			go func(c commerce.Cart) {
				defer wg.Done()
				_, err := shop.CheckOutCart(ctx, c, cat, nil)
				var ce *commerce.CartCheckoutError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.As(err, &ce) && len(ce.Problems) == 1 && errors.Is(ce.Problems[0].Err, commerce.ErrSoldOut):
					soldOut++
				default:
					t.Errorf("cart %d: %v", c.ID, err)
				}
			}(carts[i])
		}
		wg.Wait()
		if won != 1 || soldOut != buyers-1 {
			t.Fatalf("won %d, sold out %d; want 1 and %d", won, soldOut, buyers-1)
		}
		if l, to := remaining(t, db, last, ""), remaining(t, db, tote, ""); l != 0 || to != 49 {
			t.Fatalf("left: print %d tote %d, want 0 and 49", l, to)
		}
		if n := db.CountForTest(ctx, "SELECT COUNT(*) FROM holds WHERE status = 'active'"); n != 2 {
			t.Fatalf("%d active holds, want 2 (the winner's lines)", n)
		}
	})
}

func placeCartOrder(t *testing.T, db *storage.DB, holds []commerce.Hold, titles ...string) commerce.Order {
	t.Helper()
	items := make([]commerce.OrderHold, len(holds))
	for i, h := range holds {
		items[i] = commerce.OrderHold{Hold: h, Title: titles[i]}
	}
	o, err := db.Orders().PlaceOrder(context.Background(), commerce.PlaceOrder{Hold: holds[0], Title: titles[0], Items: items,
		Shipping: brooklyn, Contact: commerce.Contact{Email: "ada@example.com"}, Provider: "sandbox", Now: holds[0].CreatedAt})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// One payment sells every hold of a cart's order, once.
func TestCartOrderPaymentSellsEveryHoldOnce(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop, cat := newCartShop(t, db, clk)
		_, vinyl, tote, _ := cartCatalog()
		c := fillCart(t, shop, buyer(1), commerce.Match{Offer: vinyl, Variant: "red", Quantity: 2}, commerce.Match{Offer: tote, Quantity: 1})
		holds, err := shop.CheckOutCart(ctx, c, cat, nil)
		if err != nil {
			t.Fatal(err)
		}
		o := placeCartOrder(t, db, holds, "Signed vinyl", "Tote")
		if again := placeCartOrder(t, db, holds, "Signed vinyl", "Tote"); again.ID != o.ID {
			t.Fatalf("placing again made order %d, want %d", again.ID, o.ID)
		}
		if o.Total.Amount != 2*2500+1800 || len(o.Lines) != 2 || o.Lines[1].Title != "Tote" {
			t.Fatalf("order = %+v", o)
		}
		for i := 0; i < 2; i++ {
			res, err := db.Orders().ApplyPayment(ctx, paid("evt_cart", o.ID, clk.Now()))
			if err != nil || res.Duplicate != (i > 0) || res.Order.Status != commerce.OrderPaid || res.NeedsRefund {
				t.Fatalf("delivery %d: %+v, %v", i+1, res, err)
			}
		}
		for _, h := range holds {
			if got, _ := db.Shop().Hold(ctx, h.ID); got.Status != commerce.HoldConverted {
				t.Fatalf("hold %d (%s) is %s, want converted", h.ID, h.OfferID, got.Status)
			}
		}
		if n := db.CountForTest(ctx, "SELECT SUM(sold) FROM stock WHERE offer_id IN ('vinyl', 'tote')"); n != 3 {
			t.Fatalf("sold %d units, want 3", n)
		}
		for _, find := range []func() (commerce.Order, error){
			func() (commerce.Order, error) { return db.Orders().OrderForCart(ctx, c.ID) },
			func() (commerce.Order, error) { return db.Orders().OrderForHold(ctx, holds[1].ID) },
		} {
			if got, err := find(); err != nil || got.ID != o.ID {
				t.Fatalf("order found = %d, %v; want %d", got.ID, err, o.ID)
			}
		}
	})
}

// A cart's payment that arrives after its holds ran out, when one line's
// stock is gone, sells nothing: the whole order is refunded and the other
// line's units go back on sale.
func TestLateCartPaymentIsRefundedWholeWhenALineIsGone(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop, cat := newCartShop(t, db, clk)
		_, _, tote, last := cartCatalog()
		c := fillCart(t, shop, buyer(1), commerce.Match{Offer: tote, Quantity: 2}, commerce.Match{Offer: last, Quantity: 1})
		holds, err := shop.CheckOutCart(ctx, c, cat, nil)
		if err != nil {
			t.Fatal(err)
		}
		o := placeCartOrder(t, db, holds, "Tote", "Last print")
		clk.Add(16 * time.Minute)
		if _, _, err := shop.Buy(ctx, commerce.Match{Offer: last, Quantity: 1}, buyer(2)); err != nil {
			t.Fatal(err)
		}
		res, err := db.Orders().ApplyPayment(ctx, paid("evt_late_cart", o.ID, clk.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if !res.NeedsRefund || res.Order.Status != commerce.OrderRefunded {
			t.Fatalf("late payment = %+v, want refunded", res)
		}
		if n := db.CountForTest(ctx, "SELECT COUNT(*) FROM holds WHERE cart_id IS NOT NULL AND status = 'converted'"); n != 0 {
			t.Fatalf("%d of the cart's holds sold, want 0", n)
		}
		if l, to := remaining(t, db, last, ""), remaining(t, db, tote, ""); l != 0 || to != 50 {
			t.Fatalf("left: print %d tote %d; want 0 (the other buyer's) and 50 (back on sale)", l, to)
		}
	})
}

// A cart's payment session that expires cancels the order and returns the
// units of every line.
func TestExpiredCartPaymentSessionReturnsEveryLine(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop, cat := newCartShop(t, db, clk)
		_, _, tote, last := cartCatalog()
		c := fillCart(t, shop, buyer(1), commerce.Match{Offer: tote, Quantity: 2}, commerce.Match{Offer: last, Quantity: 1})
		holds, err := shop.CheckOutCart(ctx, c, cat, nil)
		if err != nil {
			t.Fatal(err)
		}
		o := placeCartOrder(t, db, holds, "Tote", "Last print")
		if err := db.Orders().CancelPendingOrder(ctx, o.ID, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Orders().Order(ctx, o.ID); got.Status != commerce.OrderCancelled {
			t.Fatalf("order is %s, want cancelled", got.Status)
		}
		if l, to := remaining(t, db, last, ""), remaining(t, db, tote, ""); l != 1 || to != 50 {
			t.Fatalf("left: print %d tote %d; want 1 and 50", l, to)
		}
	})
}

// A reminder step's candidates come in cursor order, and a batch that
// starts after the previous batch's last candidate gets the next ones:
// carts and first holds made in the same instant are all found, once
// each, however the batches fall.
func TestReminderCandidatesPageByCursor(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop, _ := newCartShop(t, db, clk)
		_, _, tote, _ := cartCatalog()
		const n = 7 // carts (and holds) per instant
		var carts, holds []string
		for instant := 0; instant < 2; instant++ {
			for i := 0; i < n; i++ {
				b := buyer(instant*n + i)
				fillCart(t, shop, b, commerce.Match{Offer: tote, Quantity: 1})
				if _, _, err := shop.Buy(ctx, commerce.Match{Offer: tote, Quantity: 1}, b); err != nil {
					t.Fatal(err)
				}
				carts, holds = append(carts, b.XUserID), append(holds, b.XUserID)
			}
			clk.now = clk.now.Add(time.Minute)
		}
		since, before := clk.now.Add(-time.Hour), clk.now
		for _, limit := range []int{1, 3, n, 20} {
			var gotCarts, gotHolds []string
			var afterCart, afterHold commerce.ReminderCursor
			for batch := 0; batch < 100; batch++ {
				var cs []commerce.CartReminder
				var hs []commerce.HoldReminder
				err := db.InTx(ctx, func(ctx context.Context) error {
					var err error
					if cs, err = db.Shop().DueCartReminders(ctx, 1, since, before, afterCart, limit); err != nil {
						return err
					}
					hs, err = db.Shop().DueHoldReminders(ctx, 1, since, before, afterHold, limit)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cs {
					gotCarts = append(gotCarts, c.Buyer.XUserID)
				}
				for _, h := range hs {
					gotHolds = append(gotHolds, h.Buyer.XUserID)
				}
				if len(cs) > 0 {
					afterCart = cs[len(cs)-1].Cursor
				}
				if len(hs) > 0 {
					afterHold = hs[len(hs)-1].Cursor
				}
				if len(cs) < limit && len(hs) < limit {
					break
				}
			}
			if !slices.Equal(gotCarts, carts) || !slices.Equal(gotHolds, holds) {
				t.Errorf("limit %d: carts %v, holds %v; want each of %v once, in order", limit, gotCarts, gotHolds, carts)
			}
		}
	})
}
