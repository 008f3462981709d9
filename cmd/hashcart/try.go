package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashcart/hashcart/bot"
	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/storage"
)

// Exit codes of hashcart try.
const (
	tryHeld    = 0 // the reply would hold stock (or fill a cart)
	tryConfig  = 1 // the configuration or the database could not be used
	tryUsage   = 2 // bad flags or arguments
	tryNothing = 3 // the reply would hold nothing; the output says why
)

// errDryRun rolls back everything a try did.
var errDryRun = errors.New("dry run")

// tryBuyerID is the X user id the pretend shopper has. It is no real
// account's (those are digits), so with --db no real buyer's holds or
// per-customer limit count against the try.
const tryBuyerID = "try-shopper"

// tryCmd shows what the bot would answer to a reply, without sending
// anything or changing stock: the real bot (parse, match, hold, templates)
// runs in a database transaction that is rolled back, and its messages go
// to a list that is printed instead of the outbox.
//
// By default the database is a fresh in-memory SQLite with the config's
// offers: stock as configured, nothing sold, so the try never touches or
// needs a real database. --db uses the configured database instead, in a
// transaction that is rolled back, so real stock (sold out, limits) shows.
func tryCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("try", flag.ContinueOnError)
	path := configFlag(fs)
	as := fs.String("as", "@shopper", "the shopper's @handle")
	postID := fs.String("post", "", "the post replied to (default: from the tags and keywords; see README)")
	useDB := fs.Bool("db", false, "read real stock from the configured database (changes are rolled back)")
	at := fs.String("at", "", "pretend it is this time (RFC 3339), e.g. during a timed drop; default now")
	fs.SetOutput(stderr)
	// Flags may come after the reply text too.
	var text []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return tryUsage
		}
		if fs.NArg() == 0 {
			break
		}
		text = append(text, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(text) != 1 {
		fmt.Fprintln(stderr, `usage: hashcart try [--config FILE] [--as @handle] [--post ID] [--at TIME] [--db] "@acme #BuyNow red x2"`)
		return tryUsage
	}
	now := time.Now().UTC()
	if *at != "" {
		tm, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fmt.Fprintf(stderr, "hashcart try: --at %q is not an RFC 3339 time such as 2026-12-01T17:30:00Z\n", *at)
			return tryUsage
		}
		now = tm.UTC()
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return tryConfig
	}
	tpl, err := templatesFor(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return tryConfig
	}
	ctx := context.Background()
	db, err := tryDB(ctx, cfg, *useDB)
	if err != nil {
		fmt.Fprintf(stderr, "hashcart try: %v\n", err)
		return tryConfig
	}
	defer db.Close()
	t := &trial{cfg: cfg, cat: bot.CatalogFromConfig(cfg), tpl: tpl, db: db, out: stdout, now: now,
		handle: strings.TrimPrefix(*as, "@"), text: text[0], post: *postID, realDB: *useDB}
	code, err := t.run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "hashcart try: %v\n", err)
		return tryConfig
	}
	return code
}

// tryDB opens the database a try runs against.
func tryDB(ctx context.Context, cfg *config.Config, real bool) (*storage.DB, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if !real {
		db, err := storage.Open(ctx, storage.DriverSQLite, "file:hashcart-try?mode=memory", storage.Options{Logger: quiet})
		if err != nil {
			return nil, err
		}
		if err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	}
	if cfg.Storage.Driver == storage.DriverSQLite {
		// Opening creates a missing file; a try must not.
		file := strings.TrimPrefix(strings.SplitN(cfg.Storage.DSN, "?", 2)[0], "file:")
		if _, err := os.Stat(file); err != nil {
			return nil, fmt.Errorf("--db: %w (run hashcart serve once, or leave --db out)", err)
		}
	}
	// No data key: the bot reads no saved details here (one-tap buying is
	// left out of a try).
	return storage.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN, storage.Options{MaxOpenConns: 2, Logger: quiet})
}

// trial is one hashcart try.
type trial struct {
	cfg    *config.Config
	cat    *commerce.Catalog
	tpl    *bot.Templates
	db     *storage.DB
	out    io.Writer
	now    time.Time
	handle string
	text   string
	post   string
	realDB bool
}

// capture is the bot's outbox during a try: it keeps the messages.
type capture struct{ msgs []outbox.Message }

func (c *capture) Enqueue(_ context.Context, msgs ...outbox.Message) error {
	c.msgs = append(c.msgs, msgs...)
	return nil
}

func (t *trial) printf(format string, args ...any) { fmt.Fprintf(t.out, format, args...) }

func (t *trial) run(ctx context.Context) (int, error) {
	parsed := bot.Parse(t.text)
	m, post, why := t.target(parsed)
	t.printf("reply:    @%s: %q\n", t.handle, t.text)
	t.printf("parsed:   tags %s; words %s; quantity %s\n", list(parsed.Tags, "#"), list(parsed.Words, ""), quantity(parsed.Quantity))
	if m == nil {
		t.printf("no match: %s\n", why)
		return tryNothing, nil
	}
	if post != "" {
		t.printf("to:       post %s of @%s (merchant %s)%s\n", post, m.ScreenName, m.ID, why)
	} else {
		t.printf("to:       a mention of @%s (merchant %s), not a reply to a post%s\n", m.ScreenName, m.ID, why)
	}
	req := commerce.Request{MerchantID: m.ID, InReplyTo: post, Tags: parsed.Tags, Words: parsed.Words, Quantity: parsed.Quantity}
	match, matchErr := t.cat.Match(req)
	switch {
	case len(parsed.Tags) == 0:
		t.printf("no match: the reply has no hashtag, so it is not an order; the bot stays silent\n")
		return tryNothing, nil
	case errors.Is(matchErr, commerce.ErrNoMatch):
		t.printf("no match: %s; the bot stays silent\n", t.noMatchReason(m, req))
		return tryNothing, nil
	case matchErr != nil:
		t.printf("no match: %v (the public reply below asks the shopper to choose)\n", matchErr)
	default:
		intent := "buy now: hold stock and DM a checkout link"
		if match.Intent == commerce.IntentCart {
			intent = "add to cart"
		}
		variant := ""
		if match.Variant != "" {
			variant = ", variant " + match.Variant
		}
		t.printf("match:    offer %s (%q)%s, quantity %d, %s\n", match.Offer.ID, match.Offer.Title, variant, match.Quantity, intent)
	}

	// The real bot, on an event as X would deliver it, in a transaction
	// that is rolled back whatever happens.
	payload, _ := json.Marshal(map[string]any{
		"id_str": "1", "text": t.text, "in_reply_to_status_id_str": post,
		"user": map[string]string{"id_str": tryBuyerID, "screen_name": t.handle},
	})
	ev := inbox.Event{ID: "try:1", ForUserID: m.XUserID, Kind: inbox.KindTweetCreate, Payload: payload, ReceivedAt: t.now}
	out := &capture{}
	now := func() time.Time { return t.now }
	b := &bot.Bot{
		Catalog:     func() *commerce.Catalog { return t.cat },
		Shop:        &commerce.Shop{Holds: t.db.Shop(), Carts: t.db.Shop(), Waitlist: t.db.Shop(), HoldFor: t.cfg.Checkout.Hold.Duration, Now: now},
		Stores:      t.db.Shop(),
		Outbox:      out,
		Templates:   t.tpl,
		CartLinkTTL: t.cfg.Checkout.CartLinkTTL.Duration,
		Now:         now,
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	code := tryNothing
	err := t.db.InTx(ctx, func(ctx context.Context) error {
		// Counters for the offers as this file has them; sold and held
		// are counted from the database's holds.
		if _, err := t.db.Shop().SyncStockReport(ctx, t.cat); err != nil {
			return err
		}
		if err := b.HandleEvent(ctx, ev); err != nil {
			return fmt.Errorf("the bot failed: %w", err)
		}
		c, err := t.describe(ctx, m, out.msgs)
		code = c
		if err != nil {
			return err
		}
		return errDryRun
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return tryConfig, err
	}
	if len(out.msgs) == 0 {
		t.printf("messages: none\n")
	}
	if code == tryNothing && matchErr == nil {
		t.printf("no hold:  the offer matched but takes no order now; the public reply above says why\n")
	}
	where := "stock as configured, nothing sold: an in-memory copy; --db reads real stock"
	if t.realDB {
		where = "real stock from the configured database, in a transaction that was rolled back"
	}
	t.printf("dry run:  nothing was sent and no stock changed (%s)\n", where)
	return code, nil
}

// describe prints the hold or cart the bot made and the messages it would
// send, and returns the exit code.
func (t *trial) describe(ctx context.Context, m *commerce.Merchant, msgs []outbox.Message) (int, error) {
	code := tryNothing
	for _, msg := range msgs {
		if msg.Link == nil {
			continue
		}
		switch msg.Link.Target.Kind {
		case commerce.LinkHold:
			h, err := t.db.Shop().Hold(ctx, msg.Link.Target.ID)
			if err != nil {
				return tryConfig, err
			}
			title, variant := h.OfferID, ""
			if o, ok := t.cat.Offer(h.MerchantID, h.OfferID); ok {
				title = o.Title
			}
			if h.Variant != "" {
				variant = " (" + h.Variant + ")"
			}
			t.printf("hold:     %d × %s%s, %s in all (%s each), held until %s (%s)\n", h.Quantity, title, variant,
				h.Total(), h.UnitPrice, h.ExpiresAt.UTC().Format(time.RFC3339), t.cfg.Checkout.Hold.Duration)
			if o, ok := t.cat.Offer(h.MerchantID, h.OfferID); ok {
				if left, err := t.db.Shop().Remaining(ctx, o); err == nil {
					if n := left[o.StockKey(h.Variant)]; n != nil {
						t.printf("stock:    %d left after this hold\n", *n)
					}
				}
			}
			code = tryHeld
		case commerce.LinkCart:
			c, err := t.db.Shop().OpenCart(ctx, m.ID, tryBuyerID)
			if err != nil {
				return tryConfig, err
			}
			t.printf("cart:     %d line(s), %s in all (a cart holds no stock)\n", len(c.Lines), c.Total())
			code = tryHeld
		}
	}
	for _, msg := range msgs {
		t.message("", msg)
	}
	return code, nil
}

// message prints msg and the messages it carries.
func (t *trial) message(when string, msg outbox.Message) {
	text := strings.ReplaceAll(msg.Text, outbox.LinkPlaceholder, "<private link>")
	switch msg.Kind {
	case outbox.KindDM:
		t.printf("DM to @%s%s:\n    %s\n", t.handle, when, text)
	case outbox.KindReply:
		t.printf("public reply%s:\n    %s\n", when, text)
	default:
		t.printf("%s%s:\n    %s\n", msg.Kind, when, text)
	}
	if msg.OnSent != nil {
		t.message(" (after the DM is delivered)", *msg.OnSent)
	}
	if msg.OnDMClosed != nil {
		t.message(" (instead, if @"+t.handle+" does not accept DMs)", *msg.OnDMClosed)
	}
	if msg.Collapse != nil {
		t.message(" (instead of every sold-out reply, when too many arrive at once)", *msg.Collapse)
	}
}

// target decides which merchant the reply is addressed to and which post
// it answers: --post when given; else a mention when an offer keyword is
// in the text, else the first post of the one offer its tags name. why
// explains the choice, or why there is none.
func (t *trial) target(p bot.Post) (m *commerce.Merchant, post, why string) {
	if t.post != "" {
		for _, mm := range t.cat.Merchants() {
			for _, o := range mm.Offers {
				if slices.Contains(o.PostIDs, t.post) {
					return mm, t.post, ""
				}
			}
		}
	}
	for _, name := range p.Mentions {
		for _, mm := range t.cat.Merchants() {
			if strings.EqualFold(mm.ScreenName, name) {
				m = mm
			}
		}
		if m != nil {
			break
		}
	}
	if m == nil {
		if ms := t.cat.Merchants(); len(ms) == 1 {
			m = ms[0]
		} else {
			return nil, "", "the reply mentions no configured merchant; add its @handle or give --post"
		}
	}
	if t.post != "" {
		return m, t.post, " — no offer sells from this post"
	}
	// A mention naming an offer's keyword matches without a post.
	req := commerce.Request{MerchantID: m.ID, Tags: p.Tags, Words: p.Words, Quantity: p.Quantity}
	if _, err := t.cat.Match(req); !errors.Is(err, commerce.ErrNoMatch) {
		return m, "", ""
	}
	var named []*commerce.Offer
	for _, o := range m.Offers {
		if (hasTag(p.Tags, o.BuyTags) || hasTag(p.Tags, o.CartTags)) && len(o.PostIDs) > 0 {
			named = append(named, o)
		}
	}
	if len(named) > 1 {
		// As Match does for offers sharing a post: a keyword or a variant
		// name in the reply decides.
		var narrowed []*commerce.Offer
		for _, o := range named {
			if hasTag(p.Words, o.Keywords) || slices.ContainsFunc(o.Variants, func(v commerce.Variant) bool { return slices.Contains(p.Words, v.Key) }) {
				narrowed = append(narrowed, o)
			}
		}
		if len(narrowed) == 1 {
			return m, narrowed[0].PostIDs[0], fmt.Sprintf(" — the first post of offer %s, the one offer these tags and words name (choose with --post)", narrowed[0].ID)
		}
	}
	switch len(named) {
	case 0:
		return m, "", ""
	case 1:
		return m, named[0].PostIDs[0], fmt.Sprintf(" — the first post of offer %s, the one offer these tags name (choose with --post)", named[0].ID)
	}
	ids := make([]string, len(named))
	for i, o := range named {
		ids[i] = fmt.Sprintf("%s (post %s)", o.ID, o.PostIDs[0])
	}
	return nil, "", fmt.Sprintf("several offers take these tags: %s; say which post the reply answers with --post", strings.Join(ids, ", "))
}

// noMatchReason says why Match found nothing, in the merchant's terms.
func (t *trial) noMatchReason(m *commerce.Merchant, req commerce.Request) string {
	var pool []*commerce.Offer
	for _, o := range m.Offers {
		if req.InReplyTo != "" && slices.Contains(o.PostIDs, req.InReplyTo) {
			pool = append(pool, o)
		}
	}
	if len(pool) == 0 {
		where := "it is not a reply to one of " + m.ID + "'s offer posts"
		if req.InReplyTo != "" {
			where = "post " + req.InReplyTo + " is not one of " + m.ID + "'s offer posts"
		}
		var kws []string
		for _, o := range m.Offers {
			for _, k := range o.Keywords {
				kws = append(kws, o.ID+": "+k)
			}
		}
		if len(kws) == 0 {
			return where + ", and no offer has keywords to match a mention by"
		}
		return where + ", and no offer keyword is in it (keywords: " + strings.Join(kws, ", ") + ")"
	}
	var tags []string
	for _, o := range pool {
		tags = append(tags, fmt.Sprintf("%s takes %s", o.ID, list(append(slices.Clone(o.BuyTags), o.CartTags...), "#")))
	}
	return "the reply's tags " + list(req.Tags, "#") + " are not the offer's: " + strings.Join(tags, "; ")
}

func hasTag(have, want []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}

func list(xs []string, prefix string) string {
	if len(xs) == 0 {
		return "(none)"
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = prefix + x
	}
	return strings.Join(out, " ")
}

func quantity(n int) string {
	if n == 0 {
		return "not stated (1)"
	}
	return fmt.Sprint(n)
}
