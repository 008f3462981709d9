package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/commerce/sandbox"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/webhooks"
	"github.com/hashcart/hashcart/xsim"
)

// Three hashcart processes on one PostgreSQL, 1,000 paid orders and 1,000
// abandoned carts, one process killed with -9 midway: exactly 1,000
// confirmation DMs, each order delivered to the merchant once, exactly
// one reminder per cart per step.
//
// It needs PostgreSQL (HASHCART_TEST_POSTGRES_DSN); HASHCART_TEST_CLUSTER=0
// leaves it out (it takes about a minute).
func TestThreeInstancesDoEverythingExactlyOnce(t *testing.T) {
	if os.Getenv("HASHCART_TEST_CLUSTER") == "0" {
		t.Skip("three-process test skipped: HASHCART_TEST_CLUSTER=0")
	}
	n := 1000
	if testing.Short() {
		n = 200
	}
	drv, dsn := storagetest.DSN(t, storage.DriverPostgres)
	sim := xsim.New(xsim.Options{ConsumerKey: "e2e-consumer-key", ConsumerSecret: testSecret})
	api := httptest.NewServer(sim)
	defer api.Close()
	// The merchant keeps the first success of each delivery id and answers
	// a repeat with 200 without acting on it, as the README tells merchants
	// to; repeats are counted.
	var mu sync.Mutex
	accepted := map[string]int{}
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		accepted[r.Header.Get("Hashcart-Delivery-Id")]++
		mu.Unlock()
	}))
	defer merchant.Close()
	t.Setenv("E2E_ORDER_WEBHOOK", merchant.URL)

	extra := `outbox: { poll_interval: 50ms, lease: 3s, per_account: 1000000, per_app: 1000000 }
jobs: { handoff: "@every 1s", handoff_lease: 3s, reminders: "@every 1s" }
reminders: { after: [3s, 6s] }`
	var procs []*instance
	for i := 0; i < 3; i++ {
		port := freePort(t)
		path := writeShopConfig(t, port, drv, dsn, api.URL, "2", extra)
		procs = append(procs, start(t, path, fmt.Sprintf("http://127.0.0.1:%d", port)))
	}
	db := openDB(t, drv, dsn)
	ctx := context.Background()

	// 1,000 carts left behind and 1,000 pending orders, straight into the store.
	cat := commerce.NewCatalog([]*commerce.Merchant{{ID: "acme", XUserID: testMerchant, Currency: "USD", Offers: []*commerce.Offer{
		{MerchantID: "acme", ID: "drop", Title: "Limited print", Price: commerce.Money{Amount: 3000, Currency: "USD"}, Stock: intPtr(50), PerCustomerLimit: 1},
		{MerchantID: "acme", ID: "signed-vinyl", Title: "Signed vinyl", Price: commerce.Money{Amount: 2500, Currency: "USD"}},
	}}})
	drop, _ := cat.Offer("acme", "drop")
	unlimited, _ := cat.Offer("acme", "signed-vinyl")
	unlimited.Variants = []commerce.Variant{{Name: "black", Key: "black"}}
	shop := &commerce.Shop{Holds: db.Shop(), Carts: db.Shop(), Waitlist: db.Shop(), HoldFor: time.Hour, Now: time.Now}
	_ = drop
	orders := make([]commerce.Order, n)
	for i := 0; i < n; i++ {
		if _, err := shop.AddToCart(ctx, commerce.Match{Offer: unlimited, Variant: "black", Quantity: 1}, commerce.Buyer{XUserID: fmt.Sprint(500000 + i), ScreenName: "cart"}); err != nil {
			t.Fatal(err)
		}
		h, _, err := shop.Buy(ctx, commerce.Match{Offer: unlimited, Variant: "black", Quantity: 1}, commerce.Buyer{XUserID: fmt.Sprint(600000 + i), ScreenName: "buyer"})
		if err != nil {
			t.Fatal(err)
		}
		orders[i], err = db.Orders().PlaceOrder(ctx, commerce.PlaceOrder{Hold: h, Title: unlimited.Title, Provider: "sandbox", Now: time.Now(),
			Shipping: commerce.Address{Name: "A", Line1: "1 Main St", City: "Brooklyn", Region: "NY", PostalCode: "11249", Country: "US"}, Contact: commerce.Contact{Email: "a@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
	}

	// The payments come in as the sandbox provider's signed events, spread
	// over the three processes; one dies midway and its share goes to the
	// others, as a provider retries.
	pay := &sandbox.Provider{Secret: derive(testSecret, "sandbox-payments"), PublicURL: procs[0].base, Now: time.Now}
	var sent atomic.Int32
	var wg sync.WaitGroup
	var killOnce sync.Once
	jobs := make(chan commerce.Order)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range jobs {
				s := sandbox.Session{OrderID: o.ID, Reference: o.Reference(), Amount: o.Total, Description: "1 × Signed vinyl", ReturnURL: procs[0].base, CancelURL: procs[0].base, ExpiresAt: time.Now().Add(time.Hour)}
				charge := pay.Charge(s, sandbox.Card{Name: "A", Number: "4242424242424242", Exp: "12/30", CSC: "123"})
				body, sig, err := pay.Event(s, charge)
				if err != nil {
					t.Error(err)
					return
				}
				for try := 0; ; try++ {
					in := procs[(int(o.ID)+try)%3]
					req, _ := http.NewRequest(http.MethodPost, in.base+"/webhooks/sandbox", bytes.NewReader(body))
					req.Header.Set(webhooks.SandboxSignatureHeader, sig)
					resp, err := client.Do(req)
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == 200 {
							break
						}
					}
					if try > 10 {
						t.Errorf("payment of %s never accepted", o.Reference())
						return
					}
				}
				if sent.Add(1) == int32(n/2) {
					killOnce.Do(func() { procs[1].stop(syscall.SIGKILL) })
				}
			}
		}()
	}
	for _, o := range orders {
		jobs <- o
	}
	close(jobs)
	wg.Wait()

	deadline := time.Now().Add(3 * time.Minute)
	var confirmations, reminders1, reminders2, deliveries int
	for {
		confirmations, reminders1, reminders2 = 0, 0, 0
		perCart := map[string]int{}
		for _, dm := range sim.DMs() {
			switch {
			case strings.Contains(dm.Text, "is confirmed"):
				confirmations++
			case strings.Contains(dm.Text, "Still thinking it over?"):
				perCart[dm.RecipientID]++
			}
		}
		for _, c := range perCart {
			if c >= 1 {
				reminders1++
			}
			if c >= 2 {
				reminders2++
			}
			if c > 2 {
				t.Fatalf("a cart got %d reminders for 2 steps", c)
			}
		}
		mu.Lock()
		deliveries = len(accepted)
		mu.Unlock()
		if (confirmations == n && reminders2 == n && deliveries == n) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("confirmations %d, carts reminded at step 1: %d, at step 2: %d, merchant deliveries %d", confirmations, reminders1, reminders2, deliveries)
	if confirmations != n || reminders1 != n || reminders2 != n || deliveries != n {
		t.Fatalf("want %d of each", n)
	}
	time.Sleep(3 * time.Second) // more ticks, more leases running out: nothing new
	total := 0
	for _, dm := range sim.DMs() {
		if strings.Contains(dm.Text, "is confirmed") {
			total++
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// A process killed between the merchant's 2xx and recording it leaves
	// that one delivery to be sent again (at least once, deduplicated by
	// its id): one kill, one delivery in flight per process, so at most one.
	repeats := 0
	for _, c := range accepted {
		repeats += c - 1
	}
	if repeats > 1 {
		t.Errorf("%d deliveries sent again; at most the one in flight when the process died", repeats)
	}
	t.Logf("deliveries sent again (the one in flight at the kill): %d", repeats)
	if total != n || len(accepted) != n {
		t.Fatalf("after more ticks: %d confirmations, %d deliveries; want %d", total, len(accepted), n)
	}
}

func intPtr(n int) *int { return &n }
