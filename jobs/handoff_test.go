package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/jobs"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

// merchant is an order_webhook that fails a number of times, then takes
// deliveries, counting each delivery id it accepted.
type merchant struct {
	mu       sync.Mutex
	failures int
	accepted map[string]int
	bodies   []commerce.HandoffOrder
	sigs     []string
}

func (m *merchant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	if m.failures > 0 {
		m.failures--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var o commerce.HandoffOrder
	json.Unmarshal(body, &o)
	m.accepted[r.Header.Get("Hashcart-Delivery-Id")]++
	m.bodies = append(m.bodies, o)
	t := strings.TrimPrefix(strings.Split(r.Header.Get("Hashcart-Signature"), ",")[0], "t=")
	var ts int64
	fmt.Sscan(t, &ts)
	if commerce.SignDelivery("whsec_test", time.Unix(ts, 0), body) != r.Header.Get("Hashcart-Signature") {
		m.sigs = append(m.sigs, "bad")
	}
	w.WriteHeader(http.StatusNoContent)
}

// A merchant endpoint that fails 5 times and then succeeds: delivered, once.
func TestHandoffRetriesUntilTheMerchantTakesTheOrderOnce(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	storagetest.Each(t, storagetest.Options{Now: clock}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		stock := 5
		o := &commerce.Offer{MerchantID: "acme", ID: "print", Title: "Print", Price: commerce.Money{Amount: 1000, Currency: "USD"}, Stock: &stock}
		db.Shop().SyncStock(ctx, commerce.NewCatalog([]*commerce.Merchant{{ID: "acme", XUserID: "1", Currency: "USD", Offers: []*commerce.Offer{o}}}))
		shop := &commerce.Shop{Holds: db.Shop(), Carts: db.Shop(), HoldFor: 15 * time.Minute, Now: clock}
		h, _, err := shop.Buy(ctx, commerce.Match{Offer: o, Quantity: 1}, commerce.Buyer{XUserID: "901"})
		if err != nil {
			t.Fatal(err)
		}
		addr := commerce.Address{Name: "Ada", Line1: "221 Kent Avenue", City: "Brooklyn", PostalCode: "11249", Country: "US"}
		order, _ := db.Orders().PlaceOrder(ctx, commerce.PlaceOrder{Hold: h, Title: o.Title, Shipping: addr, Contact: commerce.Contact{Email: "ada@example.com"}, Provider: "sandbox", Now: clock()})
		db.Orders().ApplyPayment(ctx, commerce.PaymentOutcome{EventID: "e1", OrderID: order.ID, Paid: true, PaymentRef: "ch_1", Now: clock()})
		for i := 0; i < 2; i++ { // queued twice (a replayed event): one delivery
			if err := db.Orders().EnqueueDelivery(ctx, "dlv_1", "acme", order.ID, clock()); err != nil {
				t.Fatal(err)
			}
		}
		m := &merchant{failures: 5, accepted: map[string]int{}}
		srv := httptest.NewServer(m)
		defer srv.Close()
		job := &jobs.Handoff{Store: db.Orders(), Orders: db.Orders(), Client: srv.Client(), Now: clock,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Endpoint: func(string) (jobs.MerchantEndpoint, bool) {
				return jobs.MerchantEndpoint{URL: srv.URL, Secret: "whsec_test"}, true
			}}
		for i := 0; i < 12; i++ {
			if _, err := job.Run(ctx); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			now = now.Add(30 * time.Minute) // past any backoff
			mu.Unlock()
		}
		if len(m.accepted) != 1 || m.accepted["dlv_1"] != 1 {
			t.Fatalf("accepted %v, want dlv_1 once", m.accepted)
		}
		if len(m.sigs) != 0 {
			t.Fatal("a delivery's signature did not verify")
		}
		got := m.bodies[0]
		if got.ID != order.Reference() || got.Shipping != addr || got.Total.Amount != 1000 || len(got.Items) != 1 {
			t.Fatalf("delivered order %+v", got)
		}
	})
}

func TestHandoffGivesUpAfterThreeDays(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	db := storagetest.Open(t, storage.DriverSQLite, storagetest.Options{Now: clock})
	ctx := context.Background()
	db.Orders().EnqueueDelivery(ctx, "dlv_x", "acme", 42, clock())
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++; w.WriteHeader(500) }))
	defer srv.Close()
	job := &jobs.Handoff{Store: db.Orders(), Orders: fakeOrders{}, Client: srv.Client(), Now: clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Endpoint: func(string) (jobs.MerchantEndpoint, bool) {
			return jobs.MerchantEndpoint{URL: srv.URL, Secret: "s"}, true
		}}
	for i := 0; i < 100; i++ {
		job.Run(ctx)
		mu.Lock()
		now = now.Add(time.Hour)
		mu.Unlock()
	}
	if calls < 70 || calls > 80 {
		t.Fatalf("%d attempts over 100 hours, want about one an hour until 72 h", calls)
	}
}

type fakeOrders struct{}

func (fakeOrders) Order(ctx context.Context, id int64) (commerce.Order, error) {
	return commerce.Order{ID: id, MerchantID: "acme", Status: commerce.OrderPaid}, nil
}
