package bot_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

type remindEnv struct {
	mu    sync.Mutex
	now   time.Time
	db    *storage.DB
	bot   *bot.Bot
	job   *bot.Reminders
	cat   *commerce.Catalog
	clock func() time.Time
}

func (e *remindEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *remindEnv) run(t *testing.T) int {
	t.Helper()
	n, err := e.job.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newRemindEnv(t *testing.T, driver string) *remindEnv {
	e := &remindEnv{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	e.clock = func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }
	cfg, err := config.Parse("test.yaml", []byte(testConfig), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	e.cat = bot.CatalogFromConfig(cfg)
	e.db = storagetest.Open(t, driver, storagetest.Options{Now: e.clock})
	if err := e.db.Shop().SyncStock(context.Background(), e.cat); err != nil {
		t.Fatal(err)
	}
	tpl, _ := bot.NewTemplates(nil)
	e.bot = &bot.Bot{
		Catalog: func() *commerce.Catalog { return e.cat }, Stores: e.db.Shop(), Outbox: e.db.Outbox(), Templates: tpl,
		Shop:        &commerce.Shop{Holds: e.db.Shop(), Carts: e.db.Shop(), Waitlist: e.db.Shop(), HoldFor: 15 * time.Minute, Now: e.clock},
		CartLinkTTL: 24 * time.Hour, Now: e.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	e.job = &bot.Reminders{Bot: e.bot, Store: e.db.Shop(), Carts: e.db.Shop(), InTx: e.db.InTx, After: []time.Duration{time.Hour, 24 * time.Hour}}
	return e
}

func (e *remindEnv) addToCart(t *testing.T, buyer string, offer string) {
	t.Helper()
	o, _ := e.cat.Offer("acme", offer)
	if _, err := e.bot.Shop.AddToCart(context.Background(), commerce.Match{Offer: o, Quantity: 1}, commerce.Buyer{XUserID: buyer, ScreenName: "s" + buyer}); err != nil {
		t.Fatal(err)
	}
}

func (e *remindEnv) sent(t *testing.T, key string) bool {
	t.Helper()
	_, ok, err := e.db.Outbox().Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestCartRemindersGoOutOncePerStep(t *testing.T) {
	for _, d := range storagetest.Drivers() {
		t.Run(d, func(t *testing.T) {
			e := newRemindEnv(t, d)
			e.addToCart(t, "901", "tote")
			e.advance(59 * time.Minute)
			if n := e.run(t); n != 0 {
				t.Fatalf("before an hour: %d reminders", n)
			}
			e.advance(2 * time.Minute)
			if n := e.run(t); n != 1 || !e.sent(t, commerce.CartReminderKey(1, 1)) {
				t.Fatalf("after an hour: %d reminders", n)
			}
			if n := e.run(t); n != 0 {
				t.Fatalf("the next tick sent %d more", n)
			}
			e.advance(22 * time.Hour)
			if n := e.run(t); n != 0 {
				t.Fatalf("before 24 h: %d reminders", n)
			}
			e.advance(time.Hour) // 24 h and a minute after the cart changed
			if n := e.run(t); n != 1 || !e.sent(t, commerce.CartReminderKey(1, 2)) {
				t.Fatalf("after 24 h: %d reminders", n)
			}
			e.advance(48 * time.Hour)
			if n := e.run(t); n != 0 {
				t.Fatalf("after the last step: %d reminders", n)
			}
		})
	}
}

func TestRemindersAreSkipped(t *testing.T) {
	cases := map[string]func(t *testing.T, e *remindEnv){
		"said stop": func(t *testing.T, e *remindEnv) {
			e.db.Shop().SetReminders(context.Background(), commerce.Buyer{XUserID: "901"}, false, e.clock())
		},
		"bought since": func(t *testing.T, e *remindEnv) {
			o, _ := e.cat.Offer("acme", "tote")
			h, _, err := e.bot.Shop.Buy(context.Background(), commerce.Match{Offer: o, Quantity: 1}, commerce.Buyer{XUserID: "901"})
			if err != nil {
				t.Fatal(err)
			}
			ord, _ := e.db.Orders().PlaceOrder(context.Background(), commerce.PlaceOrder{Hold: h, Title: o.Title, Provider: "sandbox", Now: e.clock(),
				Shipping: commerce.Address{Name: "A", Line1: "1", City: "B", PostalCode: "1", Country: "US"}, Contact: commerce.Contact{Email: "a@b.co"}})
			e.db.Orders().ApplyPayment(context.Background(), commerce.PaymentOutcome{EventID: "e", OrderID: ord.ID, Paid: true, Now: e.clock()})
		},
		"sold out": func(t *testing.T, e *remindEnv) {
			o, _ := e.cat.Offer("acme", "tote")
			none := 0
			o.Stock = &none
			if err := e.db.Shop().SyncStock(context.Background(), e.cat); err != nil {
				t.Fatal(err)
			}
		},
		"emptied the cart": func(t *testing.T, e *remindEnv) {
			if ok, err := e.db.Shop().EmptyCart(context.Background(), "acme", "901", e.clock()); err != nil || !ok {
				t.Fatalf("empty: %v %v", ok, err)
			}
		},
		"ended": func(t *testing.T, e *remindEnv) {
			o, _ := e.cat.Offer("acme", "tote")
			o.EndsAt = e.clock().Add(30 * time.Minute)
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			e := newRemindEnv(t, storage.DriverSQLite)
			e.addToCart(t, "901", "tote")
			setup(t, e)
			e.advance(61 * time.Minute)
			if n := e.run(t); n != 0 {
				t.Fatalf("%d reminders, want none", n)
			}
		})
	}
	t.Run("quiet hours", func(t *testing.T) {
		e := newRemindEnv(t, storage.DriverSQLite)
		e.job.QuietFrom, e.job.QuietTo = 22*time.Hour, 8*time.Hour
		e.advance(9*time.Hour + 45*time.Minute) // 21:45 UTC
		e.addToCart(t, "901", "tote")
		for i := 0; i < 20; i++ { // ticks every half hour until 07:45
			e.advance(30 * time.Minute)
			if n := e.run(t); n != 0 {
				t.Fatalf("%d reminders at %s, in quiet hours", n, e.clock().Format("15:04"))
			}
		}
		e.advance(30 * time.Minute) // 08:15 UTC: the step came due at 22:45
		if n := e.run(t); n != 1 {
			t.Fatalf("%d reminders after quiet hours, want 1", n)
		}
	})
}

func TestExpiredHoldGetsAFreshHoldWithItsReminder(t *testing.T) {
	e := newRemindEnv(t, storage.DriverSQLite)
	o, _ := e.cat.Offer("acme", "tote")
	first, _, err := e.bot.Shop.Buy(context.Background(), commerce.Match{Offer: o, Quantity: 2}, commerce.Buyer{XUserID: "901", ScreenName: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	e.advance(61 * time.Minute)
	if n := e.run(t); n != 1 {
		t.Fatalf("%d reminders, want 1", n)
	}
	msg, ok, _ := e.db.Outbox().Get(context.Background(), commerce.HoldReminderKey("acme", "tote", "901", 1))
	if !ok || msg.Link == nil || msg.Link.Target.ID == first.ID {
		t.Fatalf("reminder %+v: want a link to a fresh hold", msg)
	}
	fresh, _ := e.db.Shop().Hold(context.Background(), msg.Link.Target.ID)
	if fresh.Status != commerce.HoldActive || fresh.Quantity != 2 {
		t.Fatalf("fresh hold %+v", fresh)
	}
}

// Carts whose items sold out are skipped for good, and do not hold back
// the carts behind them.
func TestSkippedCartsDoNotHoldBackOthers(t *testing.T) {
	e := newRemindEnv(t, storage.DriverSQLite)
	for i := 0; i < 45; i++ { // more than a batch of sold-out carts first
		e.addToCart(t, fmt.Sprint(800+i), "tote")
	}
	e.advance(time.Minute)
	e.addToCart(t, "999", "poster")
	o, _ := e.cat.Offer("acme", "tote")
	none := 0
	o.Stock = &none
	if err := e.db.Shop().SyncStock(context.Background(), e.cat); err != nil {
		t.Fatal(err)
	}
	e.advance(61 * time.Minute)
	if n := e.run(t); n != 1 || !e.sent(t, commerce.CartReminderKey(46, 1)) {
		t.Fatalf("%d reminders; want the one cart with something left", n)
	}
	if n := e.run(t); n != 0 {
		t.Fatalf("next tick: %d", n)
	}
}
