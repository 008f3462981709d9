package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/bot"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/jobs"
	"github.com/hashcart/hashcart/logctx"
	"github.com/hashcart/hashcart/webhooks"
)

// serveCmd runs the service until ctx is cancelled (SIGINT/SIGTERM).
func serveCmd(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := configFlag(fs)
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		fmt.Fprintln(stderr, "hashcart: not started: fix the configuration (hashcart check shows every problem)")
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("hashcart stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	// logctx adds what the context carries (request_id, event_id).
	if c.Format == "json" {
		return slog.New(logctx.NewHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(logctx.NewHandler(slog.NewTextHandler(w, opts)))
}

// serve wires storage, intake, the bot, the outbox and HTTP, and runs them
// until ctx ends. Shutdown order matters: HTTP stops first and waits for
// in-flight deliveries (whose commits are still being made), then the
// committer, the workers and the sender stop, each finishing what it holds
// and giving back what it claimed but did not start. All of it is bounded
// by server.shutdown_timeout (see stopWithin).
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	return serveWith(ctx, cfg, log, serveExtras{})
}

// serveExtras add to serve without changing what it runs (the demo's page).
type serveExtras struct {
	listener net.Listener               // used instead of listening on server.listen
	mount    func(*fiber.App, *service) // adds routes after hashcart's own
	ready    func(public string)        // called once HTTP accepts connections
}

func serveWith(ctx context.Context, cfg *config.Config, log *slog.Logger, x serveExtras) error {
	svc, err := newService(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.db.Close()
	m := newMetrics(cfg, svc)
	committer := inbox.NewCommitter(svc.db.Inbox(), 1000, svc.workers.Wake, log)

	app := webhooks.NewApp(int(cfg.Server.MaxBody), log)
	webhooks.TrustProxies(app, cfg.Server.Proxies())
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	mountOps(app, cfg, svc.db, m, log)
	xh := &webhooks.XHandler{
		ConsumerSecret: cfg.X.ConsumerSecret,
		KnownUser: func(id string) bool {
			_, ok := svc.catalog.Load().MerchantByXUserID(id)
			return ok
		},
		Intake:   committer,
		Now:      time.Now,
		Log:      log,
		Observer: observerOf(m),
	}
	xh.Mount(app, cfg.X.WebhookPath)
	pages := &webhooks.CheckoutPages{
		Links: svc.links, Store: svc.db.Shop(), Orders: svc.db.Orders(), Details: svc.db.Orders(), Checkout: svc.checkout, Shop: svc.bot.Shop,
		Forget: svc.forget, Catalog: svc.catalog.Load, CSRFKey: svc.csrfKey, PublicURL: cfg.Server.PublicURL,
		Now: time.Now, Log: log, Slots: webhooks.NewSlots(pageSlots(cfg.Server.PageConcurrency), 10*time.Second),
	}
	pages.Opened = svc.db.Shop().MarkLinkOpened
	if r, ok := svc.checkout.Provider.(commerce.ReceiptEmailer); ok {
		pages.ReceiptsByEmail = r.EmailsReceipts()
	}
	pages.Mount(app)
	mountMerchantPage(app, svc, cfg, log)
	// The messages a payment outcome enqueues wake the sender once
	// committed (storage.OnEnqueued).
	apply := svc.checkout.Apply
	if svc.sandbox != nil {
		(&webhooks.SandboxPages{Provider: svc.sandbox, Apply: apply, Log: log, Observer: observerOf(m)}).Mount(app)
	}
	if svc.stripe != nil {
		(&webhooks.StripeWebhook{Provider: svc.stripe, Apply: apply, Log: log, Observer: observerOf(m),
			Release: func(ctx context.Context, orderID int64) error {
				return svc.db.Orders().CancelPendingOrder(ctx, orderID, time.Now().UTC())
			}}).Mount(app)
	}

	sched := jobs.New(log)
	if m != nil {
		sched.Observe = m.JobRun
	}
	expire := &jobs.ExpireHolds{Holds: svc.db.Shop(), Now: time.Now, Released: func(ctx context.Context, holds []commerce.Hold) (int, error) {
		return svc.bot.ServeReleased(ctx, holds, svc.db.InTx)
	}}
	if err := sched.Add(cfg.Jobs.ExpireHolds, expire); err != nil {
		return err
	}
	if err := sched.Add(cfg.Jobs.Handoff, svc.handoff); err != nil {
		return err
	}
	if len(cfg.Reminders.After) > 0 {
		after := make([]time.Duration, len(cfg.Reminders.After))
		for i, d := range cfg.Reminders.After {
			after[i] = d.Duration
		}
		from, to := cfg.Reminders.Quiet()
		remind := &bot.Reminders{Bot: svc.bot, Store: svc.db.Shop(), Carts: svc.db.Shop(), InTx: svc.db.InTx, After: after, QuietFrom: from, QuietTo: to}
		if err := sched.Add(cfg.Jobs.Reminders, remind); err != nil {
			return err
		}
	}
	if x.mount != nil {
		x.mount(app, svc)
	}
	ln := x.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
		}
	}

	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	startPprof(bgCtx, log) // opt-in: HASHCART_PPROF=127.0.0.1:6060
	bg.Add(6)
	go func() { defer bg.Done(); svc.watchConfig(bgCtx, log) }() // offers reload: SIGHUP, file change
	go func() { defer bg.Done(); sched.Run(bgCtx) }()
	go func() { defer bg.Done(); committer.Run(bgCtx) }()
	go func() { defer bg.Done(); svc.workers.Run(bgCtx) }()
	go func() { defer bg.Done(); svc.sender.Run(bgCtx) }()
	go func() { defer bg.Done(); svc.tasks.Loop(bgCtx) }() // provider calls, outside transactions

	httpErr := make(chan error, 1)
	go func() { httpErr <- app.Listener(ln) }()
	log.Info("hashcart listening", "addr", ln.Addr().String(), "public_url", cfg.Server.PublicURL,
		"webhook", cfg.Server.PublicURL+cfg.X.WebhookPath, "storage", cfg.Storage.Driver, "merchants", merchantIDs(cfg),
		"x_api", cfg.X.APIVersion, "version", version, "pid", os.Getpid())
	if x.ready != nil {
		x.ready(cfg.Server.PublicURL)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout.Duration)
	case runErr = <-httpErr:
	}
	stopWithin(cfg.Server.ShutdownTimeout.Duration, app, stopBackground, &bg, log)
	return runErr
}

// pageSlots is server.page_concurrency, or when it is 0 one more than the
// cores Go schedules on. Measured on 2 cores with 200 clients: 3 slots
// served as many pages a second as 4 with a lower p99; 2 and 8 served a
// fifth fewer (bench/HISTORY.md, session 4).
func pageSlots(n int) int {
	if n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0) + 1
}
