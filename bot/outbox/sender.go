package outbox

import (
	"context"
	"errors"
	"fmt"
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
	// Workers is how many claim-and-send loops run in this process (3).
	Workers int
	// Batch is how many messages one claim leases (64).
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
	// Concurrency is how many requests to X one pass has in flight (32).
	Concurrency int
}

func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
	if c.Workers <= 0 {
		c.Workers = 3
	}
	if c.Batch <= 0 {
		c.Batch = 64
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
	// Observe, when set, is told each outcome once it is recorded (Result
	// with its Now filled in), for metrics. It must be quick.
	Observe func(m Message, r Result)

	once       sync.Once
	cfg        Config
	nextExpiry atomic.Int64 // unix nanoseconds of the next expiry scan
	wake       chan struct{}
	stats      struct {
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
	if r, ok := s.Store.(DeferredRequeuer); ok {
		// Messages deferred for a budget under an earlier configuration.
		switch n, err := r.RequeueDeferred(ctx, s.Now()); {
		case err != nil:
			s.Log.Error("outbox: deferred messages not looked at again; they wait for their window's end", "err", err)
		case n > 0:
			s.Log.Info("outbox: messages deferred to a budget window's end are weighed against the configured budget again", "messages", n)
		}
	}
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
	now := s.Now()
	// Expiry scans every waiting message: once a second is enough (a link
	// that expires meanwhile is still refused at send time).
	skipExpiry := now.UnixNano() < s.nextExpiry.Load()
	if !skipExpiry {
		s.nextExpiry.Store(now.Add(time.Second).UnixNano())
	}
	req := ClaimRequest{
		Now: now, Limit: s.cfg.Batch, Lease: s.cfg.Lease, Budget: s.cfg.Budget, MaxAge: s.cfg.MaxAge, SkipExpiry: skipExpiry,
	}
	// Links are minted in the claim's transaction: one durable commit
	// where a claim and then a mint took two.
	var urls map[int64]string
	req.Prepare = func(ctx context.Context, msgs []Claimed) error {
		var err error
		urls, err = s.mintLinks(ctx, msgs, true)
		return err
	}
	c, err := s.Store.Claim(bg, req)
	if errors.Is(err, ErrPrepare) {
		s.Log.Warn("outbox could not mint a batch's links with its claim; claiming again and minting one by one", "err", err)
		req.Prepare = nil
		if c, err = s.Store.Claim(bg, req); err == nil {
			urls, _ = s.mintLinks(bg, c.Messages, false)
		}
	}
	if err != nil {
		return 0, err
	}
	for _, e := range c.Expired {
		s.stats.gaveUp.Add(1)
		s.observe(Message{Key: e.Key, MerchantID: e.MerchantID, Kind: e.Kind}, Result{Outcome: OutcomeExpired, Now: now})
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
	p := &pass{blocked: map[string]time.Time{}, urls: urls}
	s.readBlocks(bg, p, c.Messages)
	// One priority class at a time, so higher priorities go first. Within a
	// class, each account's first message goes alone (a probe: if X answers
	// 429, nothing else is sent to that account), then the rest go
	// concurrently, Concurrency at a time.
	probed := map[string]bool{}
	slots := make(chan struct{}, s.cfg.Concurrency)
	for start := 0; start < len(c.Messages); {
		end := start
		for end < len(c.Messages) && c.Messages[end].Priority == c.Messages[start].Priority {
			end++
		}
		var wg sync.WaitGroup
		for _, m := range c.Messages[start:end] {
			if ctx.Err() != nil {
				p.record(m, Result{Outcome: OutcomeReleased, Next: s.Now()})
				continue
			}
			if account := AccountBudgetKey(m.MerchantID); !probed[account] {
				probed[account] = true
				s.send(bg, p, m)
				continue
			}
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				s.send(bg, p, m)
			}()
		}
		wg.Wait()
		start = end
	}
	return len(c.Messages) + len(c.Expired) + len(c.Collapsed), s.finishAll(bg, p.results)
}

// pass is what one SendDue gathers while its sends run concurrently.
type pass struct {
	mu      sync.Mutex
	blocked map[string]time.Time // accounts not to send to in this pass, and until when
	urls    map[int64]string     // minted links by message id
	results []outcome
}

type outcome struct {
	m Claimed
	r Result
}

func (p *pass) record(m Claimed, r Result) {
	p.mu.Lock()
	p.results = append(p.results, outcome{m, r})
	p.mu.Unlock()
}

func (p *pass) blockedUntil(account string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.blocked[account]
	return t, ok
}

func (p *pass) block(account string, until time.Time) {
	p.mu.Lock()
	p.blocked[account] = until
	p.mu.Unlock()
}

// readBlocks reads the stored block of each account with messages in the
// pass, once: another sender may have been told to wait (a 429) since this
// claim. A blocked account's messages are put back until the block ends;
// those of an account whose block could not be read, for a later pass. A
// 429 answered in this pass blocks its account in p too.
func (s *Sender) readBlocks(ctx context.Context, p *pass, msgs []Claimed) {
	read := map[string]bool{}
	for _, m := range msgs {
		account := AccountBudgetKey(m.MerchantID)
		if read[account] {
			continue
		}
		read[account] = true
		until, err := s.Store.BlockedUntil(ctx, account)
		switch {
		case err != nil:
			s.Log.Warn("outbox could not read the account's block", "merchant", m.MerchantID, "err", err)
			p.block(account, s.Now())
		case until.After(s.Now()):
			p.block(account, until)
		}
	}
}

// mintLinks mints the links of claimed messages whose links have not
// expired. With all, the first failure fails the call (the claim's
// transaction, which Prepare runs in, is then rolled back); without, a
// message whose link could not be minted is logged and gets no entry: it
// is not sent in this pass and is retried.
func (s *Sender) mintLinks(ctx context.Context, msgs []Claimed, all bool) (map[int64]string, error) {
	urls := map[int64]string{}
	if s.Links == nil {
		return urls, nil
	}
	for _, m := range msgs {
		if m.Link == nil || !s.Now().Before(m.Link.ExpiresAt) {
			continue
		}
		url, err := s.Links.Mint(ctx, m.Link.BuyerID, m.Link.Target, m.Link.ExpiresAt)
		if err != nil {
			if all {
				return nil, fmt.Errorf("mint the link of %s: %w", m.Key, err)
			}
			s.Log.Warn("outbox could not mint a link", "key", m.Key, "err", err)
			continue
		}
		urls[m.ID] = url
	}
	return urls, nil
}

// finishAll records a pass's outcomes in one transaction, and one by one if
// that fails (so one bad row cannot leave the whole batch unrecorded, to
// be sent again when its leases expire). Plain sends, most of a pass, are
// recorded together when the Store can (SentRecorder).
func (s *Sender) finishAll(ctx context.Context, results []outcome) error {
	if len(results) == 0 {
		return nil
	}
	for i := range results {
		s.prepare(results[i].m, &results[i].r)
	}
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var sent []outcome // recorded together
		rec, batch := s.Store.(SentRecorder)
		for _, o := range results {
			if batch && o.r.Outcome == OutcomeSent && o.r.Block == "" {
				sent = append(sent, o)
				continue
			}
			if err := s.finish(ctx, o.m, o.r); err != nil {
				return err
			}
		}
		if len(sent) == 0 {
			return nil
		}
		rs := make([]Result, len(sent))
		for i, o := range sent {
			rs[i] = o.r
		}
		applied, err := rec.FinishSent(ctx, rs)
		if err != nil {
			s.Log.Error("outbox could not record sends", "messages", len(rs), "err", err)
			return err
		}
		for i, o := range sent {
			if !applied[i] {
				s.Log.Warn("outbox lease lost before the outcome was recorded", "key", o.m.Key, "outcome", OutcomeSent)
			}
		}
		return nil
	})
	if err == nil {
		for _, o := range results {
			s.observe(o.m.Message, o.r)
		}
		return nil
	}
	var errs []error
	for _, o := range results {
		err := s.finish(ctx, o.m, o.r)
		if err == nil {
			s.observe(o.m.Message, o.r)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// send sends one claimed message and records its outcome in p. ctx is not
// cancelled by shutdown.
func (s *Sender) send(ctx context.Context, p *pass, m Claimed) {
	account := AccountBudgetKey(m.MerchantID)
	if until, ok := p.blockedUntil(account); ok {
		p.record(m, Result{Outcome: OutcomeReleased, Next: until})
		return
	}
	timeout := s.cfg.Lease / 2
	if !s.Now().Add(timeout).Before(m.LeaseUntil) {
		// The lease could end during the request, and another sender send
		// it too: put it back rather than risk a duplicate.
		p.record(m, Result{Outcome: OutcomeReleased, Next: s.Now()})
		return
	}
	creds, ok := s.Credentials(m.MerchantID)
	if !ok {
		s.stats.failed.Add(1)
		s.Log.Error("outbox message failed: no credentials for merchant", "key", m.Key, "merchant", m.MerchantID)
		p.record(m, Result{Outcome: OutcomeFailed, Error: "no credentials for merchant"})
		return
	}
	text := m.Text
	if m.Link != nil {
		if !s.Now().Before(m.Link.ExpiresAt) {
			s.stats.gaveUp.Add(1)
			s.Log.Warn("outbox message given up", "key", m.Key, "merchant", m.MerchantID, "kind", m.Kind, "reason", "link expired")
			p.record(m, Result{Outcome: OutcomeExpired, Error: "link expired"})
			return
		}
		if s.Links == nil {
			s.stats.failed.Add(1)
			s.Log.Error("outbox message failed: no link minter configured", "key", m.Key, "merchant", m.MerchantID)
			p.record(m, Result{Outcome: OutcomeFailed, Error: "no link minter configured"})
			return
		}
		url, ok := p.urls[m.ID]
		if !ok {
			s.failedAttempt(p, m, errors.New("link could not be minted"))
			return
		}
		// Only the message sent carries the secret; the stored row keeps
		// the placeholder.
		text = strings.ReplaceAll(text, LinkPlaceholder, url)
	}

	// A sender died with this message in hand: look before sending again.
	if m.Lapsed {
		if xid, found := s.alreadySent(ctx, creds, m, timeout); found {
			s.stats.sent.Add(1)
			s.Log.Info("outbox message found at X after a lapsed lease; not sent again", "key", m.Key, "merchant", m.MerchantID, "kind", m.Kind)
			p.record(m, Result{Outcome: OutcomeSent, XID: xid, Then: m.OnSent})
			return
		}
		if !s.Now().Add(timeout).Before(m.LeaseUntil) {
			// The look-up took so long that the lease could end during
			// the send: put it back (not sent, so no look-up needed).
			p.record(m, Result{Outcome: OutcomeReleased, Next: s.Now()})
			return
		}
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	var xid string
	var err error
	switch m.Kind {
	case KindDM:
		xid, err = s.Client.SendDM(callCtx, creds, m.RecipientID, text)
	default:
		xid, err = s.Client.PostReply(callCtx, creds, m.InReplyTo, text)
	}
	cancel()

	if err == nil {
		s.stats.sent.Add(1)
		p.record(m, Result{Outcome: OutcomeSent, XID: xid, Then: m.OnSent})
		return
	}
	if reset, limited := xapi.RateLimited(err); limited {
		s.stats.rateLimited.Add(1)
		if !reset.After(s.Now()) {
			reset = s.Now().Add(rateLimitFallback)
		}
		p.block(account, reset)
		s.Log.Warn("outbox account rate limited", "merchant", m.MerchantID, "until", reset.UTC())
		p.record(m, Result{Outcome: OutcomeRateLimited, Next: reset, Block: account, Error: err.Error()})
		return
	}
	if errors.Is(err, xapi.ErrDMClosed) {
		s.stats.undeliverable.Add(1)
		s.Log.Info("outbox dm undeliverable: recipient takes no dms", "key", m.Key, "merchant", m.MerchantID,
			"fallback", m.OnDMClosed != nil)
		p.record(m, Result{Outcome: OutcomeUndeliverable, Error: err.Error(), Then: m.OnDMClosed})
		return
	}
	if xapi.IsRetryable(err) {
		s.failedAttempt(p, m, err)
		return
	}
	s.stats.failed.Add(1)
	s.Log.Error("outbox message failed", "key", m.Key, "merchant", m.MerchantID, "kind", m.Kind, "err", err)
	p.record(m, Result{Outcome: OutcomeFailed, Error: err.Error()})
	return
}

// failedAttempt schedules a retry after a transient failure.
func (s *Sender) failedAttempt(p *pass, m Claimed, err error) {
	s.stats.failedAttempts.Add(1)
	wait := backoff(m.Attempts + 1)
	s.Log.Warn("outbox send failed, will retry", "key", m.Key, "merchant", m.MerchantID,
		"attempt", m.Attempts+1, "retry_in", wait, "err", err)
	p.record(m, Result{Outcome: OutcomeRetry, Next: s.Now().Add(wait), Error: err.Error()})
}

func (s *Sender) observe(m Message, r Result) {
	if s.Observe != nil {
		s.Observe(m, r)
	}
}

// prepare fills in r's ids and times for m.
func (s *Sender) prepare(m Claimed, r *Result) {
	r.ID, r.Claim, r.Now = m.ID, m.Claim, s.Now()
	if r.Next.IsZero() {
		r.Next = r.Now
	}
	if len(r.Error) > 1000 {
		r.Error = r.Error[:1000]
	}
}

// finish records r (prepared) for m; a Result for a lease lost meanwhile
// is logged.
func (s *Sender) finish(ctx context.Context, m Claimed, r Result) error {
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
