package outbox

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashcart/hashcart/bot/xapi"
	"github.com/hashcart/hashcart/commerce"
)

// LinkMinter mints private links (commerce.Links implements it).
type LinkMinter interface {
	Mint(ctx context.Context, buyerID string, target commerce.LinkTarget, expiresAt time.Time) (string, error)
}

// Config tunes a Sender. Zero fields take the defaults in parentheses.
type Config struct {
	// Workers is how many claim-and-send loops run in this process (2).
	Workers int
	// Batch is how many messages one claim leases (20).
	Batch int
	// PollInterval is how often an idle worker looks for messages it was
	// not woken for: enqueued by another instance, or retries coming due
	// (200ms).
	PollInterval time.Duration
	// Budget is the shared rate budget (15m window, 300 per account, 3000
	// for the app).
	Budget Budget
	// MaxAge is how long a message may stay unsent before it is given up (1h).
	MaxAge time.Duration
	// Lease is how long a claim keeps a message from other senders (30s). A
	// request to X is abandoned after half of it, so a lease outlives the
	// request that holds it.
	Lease time.Duration
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Batch <= 0 {
		c.Batch = 20
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.Budget.Window <= 0 {
		c.Budget.Window = 15 * time.Minute
	}
	if c.Budget.PerAccount <= 0 {
		c.Budget.PerAccount = 300
	}
	if c.Budget.PerApp <= 0 {
		c.Budget.PerApp = 3000
	}
	if c.MaxAge <= 0 {
		c.MaxAge = time.Hour
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	return c
}

// Stats are a Sender's counters since it was created.
type Stats struct {
	// Sent counts messages X accepted.
	Sent int64
	// FailedAttempts counts sends that failed and will be retried.
	FailedAttempts int64
	// Failed counts messages X refused for good (or that could not be signed).
	Failed int64
	// Undeliverable counts DMs refused because the recipient takes none.
	Undeliverable int64
	// GaveUp counts messages given up: too old, or their link's hold ended.
	GaveUp int64
	// Collapsed counts grouped messages replaced by their group's post.
	Collapsed int64
	// RateLimitedWaits counts 429 answers, each blocking its account until
	// X's reset.
	RateLimitedWaits int64
}

// Sender sends the outbox. Set the fields (Store, Client and Credentials are
// required; Links is needed for messages with a Link), then call Run;
// several Senders, in one process or many, may share one database.
type Sender struct {
	Store       Store
	Client      xapi.Client
	Credentials func(merchantID string) (xapi.Credentials, bool)
	Links       LinkMinter
	Config      Config
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives one line per message given up, failed or collapsed;
	// slog.Default when nil.
	Log *slog.Logger

	once  sync.Once
	cfg   Config
	wake  chan struct{}
	stats struct {
		sent, failedAttempts, failed, undeliverable, gaveUp, collapsed, rateLimited atomic.Int64
	}
}

func (s *Sender) init() {
	s.once.Do(func() {
		s.cfg = s.Config.withDefaults()
		s.wake = make(chan struct{}, 1)
		if s.Now == nil {
			s.Now = time.Now
		}
		if s.Log == nil {
			s.Log = slog.Default()
		}
	})
}

// Wake tells an idle worker that messages were enqueued. Call it after the
// enqueueing transaction commits. It never blocks.
func (s *Sender) Wake() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters so far.
func (s *Sender) Stats() Stats {
	return Stats{
		Sent:             s.stats.sent.Load(),
		FailedAttempts:   s.stats.failedAttempts.Load(),
		Failed:           s.stats.failed.Load(),
		Undeliverable:    s.stats.undeliverable.Load(),
		GaveUp:           s.stats.gaveUp.Load(),
		Collapsed:        s.stats.collapsed.Load(),
		RateLimitedWaits: s.stats.rateLimited.Load(),
	}
}

// Run runs Config.Workers loops until ctx ends, and returns when all have
// stopped. A request to X under way when ctx ends is finished and recorded;
// the rest of its batch is put back for the next claim.
func (s *Sender) Run(ctx context.Context) {
	s.init()
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx)
		}()
	}
	wg.Wait()
}

func (s *Sender) loop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		n, err := s.SendDue(ctx)
		if err != nil {
			s.Log.Error("outbox pass failed", "err", err)
		}
		if ctx.Err() != nil {
			return
		}
		if n > 0 && err == nil {
			// More may be due, including follow-ups this pass enqueued.
			continue
		}
		timer.Reset(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// SendDue runs one pass: it claims up to Config.Batch due messages (see
// ClaimRequest) and sends them one after the other. It returns how many
// messages the pass acted on (claimed, given up or collapsed); 0 means
// nothing is due now. When ctx ends, the request under way is finished and
// the rest of the batch is put back.
func (s *Sender) SendDue(ctx context.Context) (int, error) {
	s.init()
	// Storage work is finished even during shutdown: a claim left half done
	// would only roll back, but a send left unrecorded would be repeated.
	bg := context.WithoutCancel(ctx)
	c, err := s.Store.Claim(bg, ClaimRequest{
		Now: s.Now(), Limit: s.cfg.Batch, Lease: s.cfg.Lease, Budget: s.cfg.Budget, MaxAge: s.cfg.MaxAge,
	})
	if err != nil {
		return 0, err
	}
	for _, e := range c.Expired {
		s.stats.gaveUp.Add(1)
		reason := "too old"
		if e.LinkExpired {
			reason = "link expired"
		}
		s.Log.Warn("outbox message given up", "key", e.Key, "merchant", e.MerchantID, "kind", e.Kind,
			"reason", reason, "age", s.Now().Sub(e.CreatedAt).Round(time.Second))
	}
	for _, g := range c.Collapsed {
		s.stats.collapsed.Add(int64(g.Messages))
		s.Log.Info("outbox group collapsed into one post", "group", g.Group, "merchant", g.MerchantID,
			"messages", g.Messages, "post_key", g.PostKey)
	}
	blocked := map[string]time.Time{} // accounts that got a 429 in this pass
	var errs []error
	for _, m := range c.Messages {
		if ctx.Err() != nil {
			errs = append(errs, s.finish(bg, m, Result{Outcome: OutcomeReleased, Next: s.Now()}))
			continue
		}
		errs = append(errs, s.send(bg, m, blocked))
	}
	return len(c.Messages) + len(c.Expired) + len(c.Collapsed), errors.Join(errs...)
}

// send sends one claimed message and records the outcome. ctx is not
// cancelled by shutdown.
func (s *Sender) send(ctx context.Context, m Claimed, blocked map[string]time.Time) error {
	account := AccountBudgetKey(m.MerchantID)
	if until, ok := blocked[account]; ok {
		return s.finish(ctx, m, Result{Outcome: OutcomeReleased, Next: until})
	}
	// Another sender may have been told to wait since this claim.
	until, err := s.Store.BlockedUntil(ctx, account)
	if err != nil {
		return errors.Join(err, s.finish(ctx, m, Result{Outcome: OutcomeReleased, Next: s.Now()}))
	}
	if until.After(s.Now()) {
		blocked[account] = until
		return s.finish(ctx, m, Result{Outcome: OutcomeReleased, Next: until})
	}
	timeout := s.cfg.Lease / 2
	if !s.Now().Add(timeout).Before(m.LeaseUntil) {
		// The lease could end during the request, and another sender send
		// it too: put it back rather than risk a duplicate.
		return s.finish(ctx, m, Result{Outcome: OutcomeReleased, Next: s.Now()})
	}
	creds, ok := s.Credentials(m.MerchantID)
	if !ok {
		s.stats.failed.Add(1)
		s.Log.Error("outbox message failed: no credentials for merchant", "key", m.Key, "merchant", m.MerchantID)
		return s.finish(ctx, m, Result{Outcome: OutcomeFailed, Error: "no credentials for merchant"})
	}
	text := m.Text
	if m.Link != nil {
		if !s.Now().Before(m.Link.ExpiresAt) {
			s.stats.gaveUp.Add(1)
			s.Log.Warn("outbox message given up", "key", m.Key, "merchant", m.MerchantID, "kind", m.Kind, "reason", "link expired")
			return s.finish(ctx, m, Result{Outcome: OutcomeExpired, Error: "link expired"})
		}
		if s.Links == nil {
			s.stats.failed.Add(1)
			s.Log.Error("outbox message failed: no link minter configured", "key", m.Key, "merchant", m.MerchantID)
			return s.finish(ctx, m, Result{Outcome: OutcomeFailed, Error: "no link minter configured"})
		}
		url, err := s.Links.Mint(ctx, m.Link.BuyerID, m.Link.Target, m.Link.ExpiresAt)
		if err != nil {
			return s.failedAttempt(ctx, m, err)
		}
		// Only the message sent carries the secret; the stored row keeps
		// the placeholder.
		text = strings.ReplaceAll(text, LinkPlaceholder, url)
	}

	callCtx, cancel := context.WithTimeout(ctx, timeout)
	var xid string
	switch m.Kind {
	case KindDM:
		xid, err = s.Client.SendDM(callCtx, creds, m.RecipientID, text)
	default:
		xid, err = s.Client.PostReply(callCtx, creds, m.InReplyTo, text)
	}
	cancel()

	if err == nil {
		s.stats.sent.Add(1)
		return s.finish(ctx, m, Result{Outcome: OutcomeSent, XID: xid, Then: m.OnSent})
	}
	if reset, limited := xapi.RateLimited(err); limited {
		s.stats.rateLimited.Add(1)
		if !reset.After(s.Now()) {
			reset = s.Now().Add(rateLimitFallback)
		}
		blocked[account] = reset
		s.Log.Warn("outbox account rate limited", "merchant", m.MerchantID, "until", reset.UTC())
		return s.finish(ctx, m, Result{Outcome: OutcomeRateLimited, Next: reset, Block: account, Error: err.Error()})
	}
	if errors.Is(err, xapi.ErrDMClosed) {
		s.stats.undeliverable.Add(1)
		s.Log.Info("outbox dm undeliverable: recipient takes no dms", "key", m.Key, "merchant", m.MerchantID,
			"fallback", m.OnDMClosed != nil)
		return s.finish(ctx, m, Result{Outcome: OutcomeUndeliverable, Error: err.Error(), Then: m.OnDMClosed})
	}
	if xapi.IsRetryable(err) {
		return s.failedAttempt(ctx, m, err)
	}
	s.stats.failed.Add(1)
	s.Log.Error("outbox message failed", "key", m.Key, "merchant", m.MerchantID, "kind", m.Kind, "err", err)
	return s.finish(ctx, m, Result{Outcome: OutcomeFailed, Error: err.Error()})
}

// failedAttempt schedules a retry after a transient failure.
func (s *Sender) failedAttempt(ctx context.Context, m Claimed, err error) error {
	s.stats.failedAttempts.Add(1)
	wait := backoff(m.Attempts + 1)
	s.Log.Warn("outbox send failed, will retry", "key", m.Key, "merchant", m.MerchantID,
		"attempt", m.Attempts+1, "retry_in", wait, "err", err)
	return s.finish(ctx, m, Result{Outcome: OutcomeRetry, Next: s.Now().Add(wait), Error: err.Error()})
}

// finish records r for m; a Result for a lease lost meanwhile is logged.
func (s *Sender) finish(ctx context.Context, m Claimed, r Result) error {
	r.ID, r.Claim, r.Now = m.ID, m.Claim, s.Now()
	if r.Next.IsZero() {
		r.Next = r.Now
	}
	if len(r.Error) > 1000 {
		r.Error = r.Error[:1000]
	}
	ok, err := s.Store.Finish(ctx, r)
	if err != nil {
		s.Log.Error("outbox could not record a send", "key", m.Key, "outcome", r.Outcome, "err", err)
		return err
	}
	if !ok {
		s.Log.Warn("outbox lease lost before the outcome was recorded", "key", m.Key, "outcome", r.Outcome)
	}
	return nil
}
