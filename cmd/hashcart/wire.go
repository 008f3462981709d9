package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashcart/hashcart/bot"
	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/bot/xapi"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/commerce/sandbox"
	"github.com/hashcart/hashcart/commerce/stripepay"
	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/jobs"
	"github.com/hashcart/hashcart/storage"
)

// service is hashcart assembled from a configuration: the database, the
// catalog, the bot with its inbox workers, and the outbox sender.
type service struct {
	cfg      *config.Config
	db       *storage.DB
	catalog  atomic.Pointer[commerce.Catalog]
	links    *commerce.Links
	bot      *bot.Bot
	workers  *inbox.Workers
	sender   *outbox.Sender
	checkout *commerce.Checkout
	handoff  *jobs.Handoff
	// tasks runs provider calls recorded by events (one-tap charges,
	// forgetting a buyer at the provider), after their commit.
	tasks *jobs.ProviderTasks
	// forget erases a buyer's saved details, here and at the provider.
	forget  func(ctx context.Context, buyerID string, now time.Time) error
	sandbox *sandbox.Provider
	stripe  *stripepay.Provider
	csrfKey []byte
}

// derive makes a purpose-bound secret from the X consumer secret, which
// every instance shares: HMAC-SHA256(consumer secret, purpose).
func derive(secret, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("hashcart:" + purpose))
	return m.Sum(nil)
}

// templatesFor builds the bot's answers with each merchant's overrides. A
// template problem is reported like a configuration problem, at the
// merchant's line.
func templatesFor(cfg *config.Config) (*bot.Templates, error) {
	overrides := map[string]map[string]string{}
	lines := map[string]int{}
	for _, m := range cfg.Merchants {
		overrides[m.ID] = m.Templates
		lines[m.ID] = m.Line
	}
	t, err := bot.NewTemplates(overrides)
	if err != nil {
		// Name the merchant's line so the operator finds it.
		for id, line := range lines {
			if strings.Contains(err.Error(), fmt.Sprintf("merchant %q", id)) {
				return nil, fmt.Errorf("%s:%d: %v (hint: see the templates section of README.md)", cfg.File, line, err)
			}
		}
		return nil, fmt.Errorf("%s: %v", cfg.File, err)
	}
	return t, nil
}

// credentials returns each merchant's X credentials by merchant id.
func credentials(cfg *config.Config) func(string) (xapi.Credentials, bool) {
	byID := map[string]xapi.Credentials{}
	for _, m := range cfg.Merchants {
		byID[m.ID] = xapi.Credentials{ConsumerKey: cfg.X.ConsumerKey, ConsumerSecret: cfg.X.ConsumerSecret, AccessToken: m.AccessToken, AccessSecret: m.AccessSecret, UserID: m.XUserID}
	}
	return func(id string) (xapi.Credentials, bool) {
		c, ok := byID[id]
		return c, ok
	}
}

// newService opens and migrates the database, syncs stock with the
// catalog and assembles the parts. Close the service's db when done.
func newService(ctx context.Context, cfg *config.Config, log *slog.Logger) (*service, error) {
	tpl, err := templatesFor(cfg)
	if err != nil {
		return nil, err
	}
	client, err := xapi.New(cfg.X.APIVersion, cfg.X.APIBaseURL, &http.Client{Timeout: 20 * time.Second, Transport: xTransport()})
	if err != nil {
		return nil, fmt.Errorf("x client: %w", err)
	}
	keys, err := dataKeyring(cfg, log)
	if err != nil {
		return nil, err
	}
	db, err := storage.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN, storage.Options{MaxOpenConns: cfg.Storage.MaxOpenConns, Logger: log, Sealer: keys})
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s := &service{cfg: cfg, db: db}
	cat := bot.CatalogFromConfig(cfg)
	if err := db.Shop().SyncStock(ctx, cat); err != nil {
		db.Close()
		return nil, err
	}
	s.catalog.Store(cat)
	now := time.Now
	s.links = &commerce.Links{Store: db.Shop(), PublicURL: cfg.Server.PublicURL, Now: now}
	s.sender = &outbox.Sender{
		Store:       db.Outbox(),
		Client:      client,
		Credentials: credentials(cfg),
		Links:       s.links,
		Config: outbox.Config{
			Workers:      cfg.Outbox.Workers,
			Batch:        cfg.Outbox.Batch,
			Concurrency:  cfg.Outbox.Concurrency,
			PollInterval: cfg.Outbox.PollInterval.Duration,
			Budget:       outbox.Budget{Window: cfg.Outbox.Window.Duration, PerAccount: cfg.Outbox.PerAccount, PerApp: cfg.Outbox.PerApp},
			MaxAge:       cfg.Outbox.MaxAge.Duration,
			Lease:        cfg.Outbox.Lease.Duration,
		},
		Now: now,
		Log: log,
	}
	// The sender is woken when a committed transaction enqueued something
	// to send, not after every inbox batch: during a drop most batches
	// enqueue only sold-out answers that are collapsed at once, and the
	// passes they woke, back to back, found nothing to send.
	db.OnEnqueued(storage.OutboxWork, s.sender.Wake)
	s.bot = &bot.Bot{
		Catalog:     s.catalog.Load,
		Shop:        &commerce.Shop{Holds: db.Shop(), Carts: db.Shop(), Waitlist: db.Shop(), HoldFor: cfg.Checkout.Hold.Duration, Now: now},
		Stores:      db.Shop(),
		Outbox:      db.Outbox(),
		Replies:     db.Shop(),
		Templates:   tpl,
		CartLinkTTL: cfg.Checkout.CartLinkTTL.Duration,
		Now:         now,
		Log:         log,
	}
	var provider commerce.PaymentProvider
	switch cfg.Payments.Provider {
	case "stripe":
		st := cfg.Payments.Stripe
		s.stripe, err = stripepay.New(st.APIKey, st.APIBaseURL, stripepay.Options{WebhookSecret: st.WebhookSecret, Customers: db.Customers("stripe"), Now: now})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("stripe: %w", err)
		}
		provider = s.stripe
	default:
		s.sandbox = &sandbox.Provider{Secret: derive(cfg.X.ConsumerSecret, "sandbox-payments"), PublicURL: cfg.Server.PublicURL, Now: now}
		provider = s.sandbox
	}
	s.csrfKey = derive(cfg.X.ConsumerSecret, "csrf")
	s.checkout = &commerce.Checkout{
		Orders:   db.Orders(),
		Details:  db.Orders(),
		Provider: provider,
		InTx:     db.InTx,
		Tasks:    db.Tasks(),
		Notify:   &bot.Notifier{Catalog: s.catalog.Load, Outbox: db.Outbox(), Templates: tpl},
		Now:      now,
		Log:      log,
	}
	endpoints := merchantEndpoints(cfg)
	s.checkout.Handoff = func(ctx context.Context, o commerce.Order) error {
		if _, ok := endpoints(o.MerchantID); !ok {
			return nil
		}
		return db.Orders().EnqueueDelivery(ctx, "dlv_"+o.Reference()+"_paid", o.MerchantID, o.ID, time.Now().UTC())
	}
	s.handoff = &jobs.Handoff{Store: db.Orders(), Orders: db.Orders(), Endpoint: endpoints,
		Client: &http.Client{Timeout: 15 * time.Second}, Now: now, Log: log, Lease: cfg.Jobs.HandoffLease.Duration}
	s.tasks = &jobs.ProviderTasks{Store: db.Tasks(), Runner: s.checkout, Now: now, Log: log}
	db.OnEnqueued(storage.TaskWork, s.tasks.Wake)
	shop := forgettingShop{Shop: db.Shop(), db: db}
	if _, ok := provider.(commerce.BuyerForgetter); ok {
		shop.provider = provider.Name()
	}
	s.bot.Stores = shop
	s.forget = shop.Forget // its provider task wakes s.tasks once committed
	s.bot.Checkout = s.checkout
	s.workers = &inbox.Workers{
		Store:       db.Inbox(),
		Handler:     s.bot,
		Count:       cfg.Intake.Workers,
		Batch:       cfg.Intake.Batch,
		Poll:        cfg.Intake.PollInterval.Duration,
		MaxAttempts: cfg.Intake.MaxAttempts,
		Log:         log,
	}
	return s, nil
}

// merchantIDs lists configured merchants for log lines.
func merchantIDs(cfg *config.Config) string {
	ids := make([]string, 0, len(cfg.Merchants))
	for _, m := range cfg.Merchants {
		ids = append(ids, m.ID)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// merchantEndpoints returns each merchant's order_webhook.
func merchantEndpoints(cfg *config.Config) func(string) (jobs.MerchantEndpoint, bool) {
	byID := map[string]jobs.MerchantEndpoint{}
	for _, m := range cfg.Merchants {
		if m.OrderWebhook.URL != "" {
			byID[m.ID] = jobs.MerchantEndpoint{URL: m.OrderWebhook.URL, Secret: m.OrderWebhook.Secret}
		}
	}
	return func(id string) (jobs.MerchantEndpoint, bool) {
		e, ok := byID[id]
		return e, ok
	}
}

// forgettingShop is the shop store whose Forget also forgets the buyer at
// the payment provider (the Stripe Customer and its saved cards).
type forgettingShop struct {
	*storage.Shop
	db *storage.DB
	// provider names a provider that keeps buyers; "" when it keeps none.
	provider string
}

// Forget erases the buyer's saved details here and records the provider's
// delete as a task, in one transaction (the caller's, for a DM): the
// buyer's data goes at once, and the network call runs after the commit.
func (f forgettingShop) Forget(ctx context.Context, buyerID string, now time.Time) error {
	return f.db.InTx(ctx, func(ctx context.Context) error {
		if err := f.Shop.Forget(ctx, buyerID, now); err != nil {
			return err
		}
		if f.provider == "" {
			return nil
		}
		return f.db.Tasks().EnqueueTask(ctx, commerce.ProviderTask{
			Key: fmt.Sprintf("forget:%s:%d", buyerID, now.UnixNano()), Kind: commerce.TaskForget, Provider: f.provider, BuyerID: buyerID,
		}, now)
	})
}
