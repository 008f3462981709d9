package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/metrics"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/webhooks"
)

// newMetrics returns the metrics with their hooks in svc, or nil when
// metrics.enabled is false.
func newMetrics(cfg *config.Config, svc *service) *metrics.Metrics {
	if !cfg.Metrics.Enabled {
		return nil
	}
	m := metrics.New()
	instrument(svc, m)
	return m
}

// observerOf is m as a webhooks.Observer; nil (no observer) when m is nil,
// not a non-nil interface holding a nil pointer.
func observerOf(m *metrics.Metrics) webhooks.Observer {
	if m == nil {
		return nil
	}
	return m
}

// instrument hands the metrics hooks to the service's parts. Nothing is
// changed when m is nil (metrics.enabled: false).
func instrument(svc *service, m *metrics.Metrics) {
	if m == nil {
		return
	}
	svc.workers.Handled = m.InboxHandled
	svc.sender.Observe = m.OutboxOutcome
	svc.bot.Shop.Holds = meteredHolds{HoldStore: svc.bot.Shop.Holds, m: m}
	svc.bot.Shop.Carts = meteredCarts{CartStore: svc.bot.Shop.Carts, m: m}
	svc.checkout.Notify = meteredNotifier{Notifier: svc.checkout.Notify, m: m}
	for _, merchant := range svc.catalog.Load().Merchants() {
		m.Offers(merchant.Offers)
	}
	m.WatchDatabase(svc.db.OpsSnapshot, 2*time.Second, time.Second, time.Now)
}

// meteredHolds counts holds placed and requests refused as sold out. A
// reservation from the waitlist that finds no stock is not a buyer turned
// away, so it is not counted.
type meteredHolds struct {
	commerce.HoldStore
	m *metrics.Metrics
}

func (h meteredHolds) Reserve(ctx context.Context, r commerce.Reservation) (commerce.Hold, bool, error) {
	hold, reused, err := h.HoldStore.Reserve(ctx, r)
	if !(r.FromWaitlist && err != nil) {
		h.m.Reserved(r.Offer.MerchantID, r.Offer.ID, reused, err)
	}
	return hold, reused, err
}

// meteredCarts counts the holds a cart's checkout makes (lines it could not
// hold are not counted as sold-outs: the refusal names no merchant). A
// second press of "Check out" gets
// the holds of the first back; only holds made now are counted.
type meteredCarts struct {
	commerce.CartStore
	m *metrics.Metrics
}

func (c meteredCarts) CheckOutCart(ctx context.Context, cc commerce.CartCheckout) ([]commerce.Hold, error) {
	holds, err := c.CartStore.CheckOutCart(ctx, cc)
	for _, h := range holds {
		if h.CreatedAt.Equal(cc.Now) {
			c.m.Reserved(h.MerchantID, h.OfferID, false, nil)
		}
	}
	return holds, err
}

// meteredNotifier counts paid orders' lines as sales.
type meteredNotifier struct {
	commerce.Notifier
	m *metrics.Metrics
}

func (n meteredNotifier) OrderPaid(ctx context.Context, o commerce.Order) error {
	err := n.Notifier.OrderPaid(ctx, o)
	if err == nil {
		n.m.Paid(o)
	}
	return err
}

// mountOps serves /readyz and, when enabled, the metrics endpoint.
func mountOps(app *fiber.App, cfg *config.Config, db *storage.DB, m *metrics.Metrics, log *slog.Logger) {
	r := &readiness{db: db, log: log}
	app.Get("/readyz", r.serve)
	if m != nil {
		app.Get(cfg.Metrics.Path, adaptor.HTTPHandler(m.Handler(cfg.Metrics.Token)))
	}
}

// readiness answers /readyz: 200 when the database answers within a
// second and its schema is at (or past) this binary's newest migration,
// else 503. Changes of state are logged once, with the reason.
type readiness struct {
	db  *storage.DB
	log *slog.Logger

	mu   sync.Mutex
	last string // "" ready, else the reason of the last 503
	seen bool
}

func (r *readiness) serve(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), time.Second)
	defer cancel()
	var reason string
	applied, err := r.db.AppliedVersion(ctx)
	switch {
	case err != nil:
		reason = "database unreachable"
	case applied < storage.SchemaVersion():
		reason = "schema not migrated"
	}
	r.mu.Lock()
	changed := !r.seen || reason != r.last
	r.seen, r.last = true, reason
	r.mu.Unlock()
	if changed {
		if reason == "" {
			r.log.InfoContext(ctx, "ready", "schema", applied)
		} else {
			r.log.WarnContext(ctx, "not ready", "reason", reason, "schema", applied, "want_schema", storage.SchemaVersion(), "err", err)
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if reason != "" {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "reason": reason})
	}
	return c.JSON(fiber.Map{"status": "ready", "schema": applied})
}

// stopWithin stops HTTP (no new connections; requests under way, whose
// commits are being made, finish), then the background work, all within
// timeout. Past it, serve returns anyway: transactions not committed roll
// back when the process exits, and leases still held run out, so nothing
// acknowledged is lost, it is only picked up later.
func stopWithin(timeout time.Duration, app *fiber.App, stopBackground func(), bg *sync.WaitGroup, log *slog.Logger) {
	start := time.Now()
	if err := app.ShutdownWithTimeout(timeout); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	stopBackground()
	done := make(chan struct{})
	go func() { bg.Wait(); close(done) }()
	left := max(timeout-time.Since(start), 0)
	select {
	case <-done:
		log.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	case <-time.After(left):
		log.Warn("shutdown timeout reached; stopping with work under way (it is retried after its lease)",
			"timeout", timeout)
	}
}
