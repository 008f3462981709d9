package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

func intp(n int) *int { return &n }

func testCatalog() (*commerce.Catalog, *commerce.Offer, *commerce.Offer) {
	vinyl := &commerce.Offer{
		MerchantID: "acme", ID: "vinyl", Title: "Signed vinyl", Price: commerce.Money{Amount: 2500, Currency: "USD"},
		Stock: intp(50), PerCustomerLimit: 2, PostIDs: []string{"1"},
		Variants: []commerce.Variant{{Name: "black", Key: "black", Stock: intp(30)}, {Name: "red", Key: "red", Stock: intp(20)}},
	}
	tote := &commerce.Offer{MerchantID: "acme", ID: "tote", Title: "Tote", Price: commerce.Money{Amount: 1800, Currency: "USD"}, Stock: intp(50), PostIDs: []string{"2"}}
	m := &commerce.Merchant{ID: "acme", XUserID: "100", Currency: "USD", Offers: []*commerce.Offer{vinyl, tote}}
	return commerce.NewCatalog([]*commerce.Merchant{m}), vinyl, tote
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newShop(t *testing.T, db *storage.DB, clk *clock) *commerce.Shop {
	cat, _, _ := testCatalog()
	if err := db.Shop().SyncStock(context.Background(), cat); err != nil {
		t.Fatal(err)
	}
	return &commerce.Shop{Holds: db.Shop(), Carts: db.Shop(), HoldFor: 15 * time.Minute, Now: clk.Now}
}

func buyer(i int) commerce.Buyer {
	return commerce.Buyer{XUserID: fmt.Sprintf("9%04d", i), ScreenName: fmt.Sprintf("shopper%d", i)}
}

// Hundreds of buyers at once on a small stock: exactly the stock is held,
// everyone else hears sold out.
func TestConcurrentBuyersNeverOversell(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now, MaxOpenConns: 20}, func(t *testing.T, db *storage.DB) {
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		const buyers = 300
		var wg sync.WaitGroup
		var mu sync.Mutex
		held, soldOut := 0, 0
		for i := 0; i < buyers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, _, err := shop.Buy(context.Background(), commerce.Match{Offer: vinyl, Variant: "red", Quantity: 1, Intent: commerce.IntentBuy}, buyer(i))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					held++
				case errors.Is(err, commerce.ErrSoldOut):
					soldOut++
				default:
					t.Errorf("buyer %d: %v", i, err)
				}
			}(i)
		}
		wg.Wait()
		if held != 20 || soldOut != buyers-20 {
			t.Fatalf("held %d, sold out %d; want 20 and %d", held, soldOut, buyers-20)
		}
		left, _ := db.Shop().Remaining(context.Background(), vinyl)
		if *left["red"] != 0 || *left["black"] != 30 {
			t.Fatalf("remaining = red %d black %d, want 0 and 30", *left["red"], *left["black"])
		}
	})
}

func TestBuyerReplyingTwiceGetsTheSameHold(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		m := commerce.Match{Offer: vinyl, Variant: "black", Quantity: 2}
		h1, reused1, err := shop.Buy(context.Background(), m, buyer(1))
		if err != nil || reused1 {
			t.Fatalf("first buy: %v reused=%v", err, reused1)
		}
		h2, reused2, err := shop.Buy(context.Background(), m, buyer(1))
		if err != nil || !reused2 || h2.ID != h1.ID {
			t.Fatalf("second buy = hold %d reused=%v err=%v, want hold %d reused", h2.ID, reused2, err, h1.ID)
		}
		left, _ := db.Shop().Remaining(context.Background(), vinyl)
		if *left["black"] != 28 {
			t.Fatalf("black left = %d, want 28 (one hold of 2)", *left["black"])
		}
	})
}

func TestPerCustomerLimitCountsHeldUnits(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		_, _, err := shop.Buy(context.Background(), commerce.Match{Offer: vinyl, Variant: "black", Quantity: 3}, buyer(1))
		var le *commerce.LimitError
		if !errors.As(err, &le) || le.Limit != 2 {
			t.Fatalf("3 units with a limit of 2: err = %v, want LimitError", err)
		}
		if _, _, err := shop.Buy(context.Background(), commerce.Match{Offer: vinyl, Variant: "black", Quantity: 2}, buyer(1)); err != nil {
			t.Fatal(err)
		}
		// The hold expires unpaid; a new hold may take the limit again.
		clk.Add(16 * time.Minute)
		h, reused, err := shop.Buy(context.Background(), commerce.Match{Offer: vinyl, Variant: "red", Quantity: 2}, buyer(1))
		if err != nil || reused || h.Variant != "red" {
			t.Fatalf("after expiry: hold %+v reused=%v err=%v", h, reused, err)
		}
		left, _ := db.Shop().Remaining(context.Background(), vinyl)
		if *left["black"] != 30 || *left["red"] != 18 {
			t.Fatalf("remaining black %d red %d, want 30 (expired hold returned) and 18", *left["black"], *left["red"])
		}
	})
}

func TestExpiredHoldsFreeStockForTheNextBuyer(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		shop := newShop(t, db, clk)
		_, vinyl, _ := testCatalog()
		for i := 0; i < 10; i++ {
			if _, _, err := shop.Buy(context.Background(), commerce.Match{Offer: vinyl, Variant: "red", Quantity: 2}, buyer(i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := shop.Buy(context.Background(), commerce.Match{Offer: vinyl, Variant: "red", Quantity: 1}, buyer(50)); !errors.Is(err, commerce.ErrSoldOut) {
			t.Fatalf("21st unit: err = %v, want sold out", err)
		}
		clk.Add(15 * time.Minute)
		if _, _, err := shop.Buy(context.Background(), commerce.Match{Offer: vinyl, Variant: "red", Quantity: 1}, buyer(50)); err != nil {
			t.Fatalf("after the holds expired: %v", err)
		}
		released, err := db.Shop().ReleaseExpired(context.Background(), clk.Now(), 100)
		if err != nil || len(released) != 0 {
			t.Fatalf("release after lazy release: %d holds, %v; want 0 (already returned)", len(released), err)
		}
	})
}

func TestCartTagsFillOneCartPerBuyerAndMerchant(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		shop := newShop(t, db, clk)
		_, vinyl, tote := testCatalog()
		ctx := context.Background()
		if _, err := shop.AddToCart(ctx, commerce.Match{Offer: tote, Quantity: 1}, buyer(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := shop.AddToCart(ctx, commerce.Match{Offer: vinyl, Variant: "red", Quantity: 1}, buyer(1)); err != nil {
			t.Fatal(err)
		}
		c, err := shop.AddToCart(ctx, commerce.Match{Offer: tote, Quantity: 2}, buyer(1))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Lines) != 2 || c.Units() != 4 || c.Total().Amount != 3*1800+2500 {
			t.Fatalf("cart = %+v, want 2 lines, 4 units, $79.00", c)
		}
		if _, err := shop.AddToCart(ctx, commerce.Match{Offer: vinyl, Variant: "red", Quantity: 2}, buyer(1)); !errors.Is(err, commerce.ErrOverLimit) {
			t.Fatalf("3rd red vinyl in the cart: err = %v, want over limit", err)
		}
		other, err := db.Shop().OpenCart(ctx, "acme", buyer(2).XUserID)
		if !errors.Is(err, commerce.ErrNotFound) {
			t.Fatalf("another buyer's cart = %+v, %v; want none", other, err)
		}
		left, _ := db.Shop().Remaining(ctx, tote)
		if *left[""] != 50 {
			t.Fatalf("tote stock = %d, want 50 (carts do not hold stock)", *left[""])
		}
	})
}

// Unlimited offers keep no live counter; when an offer becomes limited, the
// next stock sync counts what is already held, so it is never oversold.
func TestOfferThatBecomesLimitedCountsExistingHolds(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		poster, catalog, shop := posterShop(t, db, clk, nil)
		for i := 0; i < 3; i++ {
			if _, _, err := shop.Buy(ctx, commerce.Match{Offer: poster, Quantity: 1}, buyer(i)); err != nil {
				t.Fatal(err)
			}
		}
		poster.Stock = intp(4)
		if err := db.Shop().SyncStock(ctx, catalog()); err != nil {
			t.Fatal(err)
		}
		left, _ := db.Shop().Remaining(ctx, poster)
		if left[""] == nil || *left[""] != 1 {
			t.Fatalf("remaining after the offer became limited to 4 with 3 held = %v, want 1", left[""])
		}
		if _, _, err := shop.Buy(ctx, commerce.Match{Offer: poster, Quantity: 2}, buyer(9)); !errors.Is(err, commerce.ErrSoldOut) {
			t.Fatalf("2 more units: %v, want sold out", err)
		}
	})
}

// A reload that lowers an offer's stock below what is already held keeps
// the holds and leaves nothing for sale, and says so; raising it again
// frees the difference.
func TestStockLoweredBelowHeldKeepsHoldsAndSellsNoMore(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		poster, catalog, shop := posterShop(t, db, clk, intp(10))
		for i := 0; i < 3; i++ {
			if _, _, err := shop.Buy(ctx, commerce.Match{Offer: poster, Quantity: 1}, buyer(i)); err != nil {
				t.Fatal(err)
			}
		}
		poster.Stock = intp(2)
		short, err := db.Shop().SyncStockReport(ctx, catalog())
		if err != nil {
			t.Fatal(err)
		}
		if len(short) != 1 || short[0].Configured != 2 || short[0].Taken != 3 {
			t.Fatalf("shortfall = %+v, want poster configured 2, taken 3", short)
		}
		left, _ := db.Shop().Remaining(ctx, poster)
		if left[""] == nil || *left[""] != 0 {
			t.Fatalf("remaining = %v, want 0", left[""])
		}
		if _, _, err := shop.Buy(ctx, commerce.Match{Offer: poster, Quantity: 1}, buyer(8)); !errors.Is(err, commerce.ErrSoldOut) {
			t.Fatalf("buy after lowering: %v, want sold out", err)
		}
		poster.Stock = intp(5)
		if short, err := db.Shop().SyncStockReport(ctx, catalog()); err != nil || len(short) != 0 {
			t.Fatalf("raise: %v %v", short, err)
		}
		if left, _ := db.Shop().Remaining(ctx, poster); left[""] == nil || *left[""] != 2 {
			t.Fatalf("remaining after raising to 5 with 3 held = %v, want 2", left[""])
		}
	})
}

// A sold-out offer that a reload makes unlimited sells again at once, even
// with buyers still on its waitlist: unlimited stock keeps no one waiting.
func TestOfferThatBecomesUnlimitedSellsDespiteItsWaitlist(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
	storagetest.Each(t, storagetest.Options{Now: clk.Now}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		poster, catalog, shop := posterShop(t, db, clk, intp(1))
		if _, _, err := shop.Buy(ctx, commerce.Match{Offer: poster, Quantity: 1}, buyer(0)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Shop().JoinWaitlist(ctx, poster, commerce.WaitlistEntry{MerchantID: "acme", OfferID: "poster", Quantity: 1, Buyer: buyer(1), CreatedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := shop.Buy(ctx, commerce.Match{Offer: poster, Quantity: 1}, buyer(2)); !errors.Is(err, commerce.ErrSoldOut) {
			t.Fatalf("while limited: %v, want sold out", err)
		}
		poster.Stock = nil
		if err := db.Shop().SyncStock(ctx, catalog()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := shop.Buy(ctx, commerce.Match{Offer: poster, Quantity: 1}, buyer(2)); err != nil {
			t.Fatalf("once unlimited: %v, want a hold", err)
		}
	})
}

// "This buyer's active hold" must not be answered from the expiry index,
// which lists every active hold: a generic plan PostgreSQL made while the
// table was small took it, and each reply then scanned all active holds.
// Releasing expired holds still uses it.
func TestBuyerHoldLookupCannotScanTheExpiryIndex(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		q := `SELECT * FROM holds WHERE merchant_id = ? AND offer_id = ? AND buyer_id = ? AND status = 'active' AND cart_id IS NULL`
		total := 0
		// Which index a generic plan takes while the table grows, with no
		// statistics yet, varies with the table's size: look at several.
		for _, size := range []int{0, 10, 100, 500, 2000} {
			var sb strings.Builder
			for ; total < size; total++ {
				if sb.Len() > 0 {
					sb.WriteString(",")
				}
				fmt.Fprintf(&sb, "('acme', 'vinyl', '', '', '%d', 1, 2500, 'USD', 'active', '2026-12-01 17:00:00', '2026-12-01 17:15:00', '2026-12-01 17:00:00')", total)
			}
			if sb.Len() > 0 {
				if err := db.ExecForTest(ctx, "INSERT INTO holds (merchant_id, offer_id, variant, stock_key, buyer_id, quantity, unit_amount, currency, status, created_at, expires_at, updated_at) VALUES "+sb.String()); err != nil {
					t.Fatal(err)
				}
			}
			lookup := planOf(t, db, q, "acme", "vinyl", "42")
			if strings.Contains(lookup, "holds_active_expiry") || !strings.Contains(lookup, "Index") && !strings.Contains(lookup, "INDEX") {
				t.Errorf("with %d holds, the buyer's hold lookup plan is\n%s\nwant an index of the buyer's holds, never holds_active_expiry", size, lookup)
			}
		}
		if release := db.ExplainForTest(ctx, `SELECT * FROM holds WHERE status = 'active' AND expires_at <= ? ORDER BY expires_at LIMIT 500`, time.Now()); db.Driver() == storage.DriverSQLite && !strings.Contains(release, "holds_active_expiry") {
			t.Errorf("release plan:\n%s\nwant holds_active_expiry", release)
		}
	})
}

// planOf returns the plan the database runs q with: on PostgreSQL the
// generic plan a prepared statement settles on after five runs. args are
// strings, numbers or times.
func planOf(t *testing.T, db *storage.DB, q string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	if db.Driver() == storage.DriverSQLite {
		return db.ExplainForTest(ctx, q, args...)
	}
	var types, vals []string
	for i, a := range args {
		q = strings.Replace(q, "?", fmt.Sprintf("$%d", i+1), 1)
		switch a := a.(type) {
		case string:
			types, vals = append(types, "text"), append(vals, fmt.Sprintf("'%s'", a))
		case time.Time:
			types, vals = append(types, "timestamptz"), append(vals, "'"+a.Format(time.RFC3339Nano)+"'")
		default:
			types, vals = append(types, "bigint"), append(vals, fmt.Sprint(a))
		}
	}
	var plan string
	err := db.InTx(ctx, func(ctx context.Context) error {
		params, exec := "", "EXPLAIN EXECUTE plan_of"
		if len(args) > 0 {
			params, exec = " ("+strings.Join(types, ", ")+")", exec+" ("+strings.Join(vals, ", ")+")"
		}
		if err := db.ExecForTest(ctx, "PREPARE plan_of"+params+" AS "+q); err != nil {
			return err
		}
		if err := db.ExecForTest(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			return err
		}
		lines, err := db.LinesForTest(ctx, exec)
		plan = strings.Join(lines, "\n")
		if err == nil {
			err = db.ExecForTest(ctx, "DEALLOCATE plan_of")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// posterShop stocks acme's poster offer (stock nil: unlimited) and returns
// it, its catalog (for the reloads a test makes after changing it) and a
// shop selling it.
func posterShop(t *testing.T, db *storage.DB, clk *clock, stock *int) (*commerce.Offer, func() *commerce.Catalog, *commerce.Shop) {
	t.Helper()
	poster := &commerce.Offer{MerchantID: "acme", ID: "poster", Title: "Poster", Price: commerce.Money{Amount: 1200, Currency: "USD"}, Stock: stock, PostIDs: []string{"3"}}
	catalog := func() *commerce.Catalog {
		return commerce.NewCatalog([]*commerce.Merchant{{ID: "acme", XUserID: "100", Currency: "USD", Offers: []*commerce.Offer{poster}}})
	}
	if err := db.Shop().SyncStock(context.Background(), catalog()); err != nil {
		t.Fatal(err)
	}
	return poster, catalog, &commerce.Shop{Holds: db.Shop(), Carts: db.Shop(), HoldFor: 15 * time.Minute, Now: clk.Now}
}
