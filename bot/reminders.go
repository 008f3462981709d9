package bot

import (
	"context"
	"errors"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
)

// Reminders nudges buyers about carts and holds they left: one DM per
// step of After (each step once, ever, by its outbox key; a step only
// after the one before), never to a buyer who said stop, bought since,
// emptied the cart, or whose offer sold out or ended. A hold that ran out
// gets a fresh hold and link while stock remains. It implements the jobs
// package's Job.
type Reminders struct {
	Bot   *Bot
	Store commerce.ReminderStore
	Carts interface {
		Cart(ctx context.Context, id int64) (commerce.Cart, error)
	}
	// InTx runs a reminder's hold and DM in one transaction.
	InTx func(ctx context.Context, fn func(ctx context.Context) error) error
	// After are the delays of the steps, e.g. 1h and 24h.
	After []time.Duration
	// QuietFrom and QuietTo bound the quiet hours (time of day, UTC) when
	// no reminder is sent; equal means none.
	QuietFrom, QuietTo time.Duration
}

// Name implements jobs.Job.
func (r *Reminders) Name() string { return "reminders" }

// quiet reports whether now is within the quiet hours.
func (r *Reminders) quiet(now time.Time) bool {
	if r.QuietFrom == r.QuietTo {
		return false
	}
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	t := now.Sub(midnight)
	if r.QuietFrom < r.QuietTo {
		return t >= r.QuietFrom && t < r.QuietTo
	}
	return t >= r.QuietFrom || t < r.QuietTo // across midnight
}

// reminderBatch is how many candidates one transaction claims, and
// maxReminderBatches bounds a run (the next tick goes on).
const (
	reminderBatch      = 20
	maxReminderBatches = 500
)

// quietLength is how long the quiet hours last.
func (r *Reminders) quietLength() time.Duration {
	switch {
	case r.QuietFrom == r.QuietTo:
		return 0
	case r.QuietFrom < r.QuietTo:
		return r.QuietTo - r.QuietFrom
	}
	return 24*time.Hour - r.QuietFrom + r.QuietTo
}

// Run implements jobs.Job and returns how many reminders it queued.
func (r *Reminders) Run(ctx context.Context) (int, error) {
	now := r.Bot.Now().UTC()
	if r.quiet(now) {
		return 0, nil
	}
	// A tick looks back an hour past each step's threshold, and over the
	// quiet hours too, so nothing that crossed a threshold at night is
	// skipped; what crossed longer ago (hashcart was down) skips the step.
	lookback := time.Hour + r.quietLength()
	sent := 0
	for i, after := range r.After {
		step := i + 1
		since, before := now.Add(-after-lookback), now.Add(-after)
		// Small batches, each claimed and answered in one transaction, so
		// that instances split the work. Each batch reads on after the last
		// candidate of the one before: those were answered or recorded as
		// skipped, and those another instance had locked are its to answer.
		n, err := r.batches(ctx, func(ctx context.Context, after commerce.ReminderCursor) (int, int, commerce.ReminderCursor, error) {
			carts, err := r.Store.DueCartReminders(ctx, step, since, before, after, reminderBatch)
			sent := 0
			for i := 0; err == nil && i < len(carts); i++ {
				var ok bool
				if ok, err = r.cart(ctx, carts[i], step); ok {
					sent++
				}
			}
			if len(carts) > 0 {
				after = carts[len(carts)-1].Cursor
			}
			return len(carts), sent, after, err
		})
		sent += n
		if err != nil {
			return sent, err
		}
		n, err = r.batches(ctx, func(ctx context.Context, after commerce.ReminderCursor) (int, int, commerce.ReminderCursor, error) {
			holds, err := r.Store.DueHoldReminders(ctx, step, since, before, after, reminderBatch)
			sent := 0
			for i := 0; err == nil && i < len(holds); i++ {
				var ok bool
				if ok, err = r.hold(ctx, holds[i], step); ok {
					sent++
				}
			}
			if len(holds) > 0 {
				after = holds[len(holds)-1].Cursor
			}
			return len(holds), sent, after, err
		})
		sent += n
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// batches runs one kind of candidate, a claimed batch per transaction,
// until a batch comes back short of a full one (the window holds no more);
// claim gets the cursor after the previous batch and returns how many
// candidates it saw, how many it answered, and the cursor after its last.
func (r *Reminders) batches(ctx context.Context, claim func(ctx context.Context, after commerce.ReminderCursor) (seen, sent int, next commerce.ReminderCursor, err error)) (int, error) {
	total := 0
	var after commerce.ReminderCursor
	for batch := 0; ctx.Err() == nil && batch < maxReminderBatches; batch++ {
		var seen, sent int
		var next commerce.ReminderCursor
		err := r.InTx(ctx, func(ctx context.Context) error {
			var err error
			seen, sent, next, err = claim(ctx, after)
			return err
		})
		total += sent
		if err != nil {
			return total, err
		}
		if seen < reminderBatch {
			break
		}
		after = next
	}
	return total, nil
}

// available reports whether units of o can still be bought.
func (r *Reminders) available(ctx context.Context, o *commerce.Offer, variant string) bool {
	if o == nil || o.Availability(r.Bot.Now().UTC()) != nil {
		return false
	}
	left, err := r.Bot.Shop.Holds.Remaining(ctx, o)
	if err != nil {
		return false
	}
	n, ok := left[o.StockKey(variant)]
	return !ok || n == nil || *n > 0
}

func (r *Reminders) cart(ctx context.Context, c commerce.CartReminder, step int) (bool, error) {
	cart, err := r.Carts.Cart(ctx, c.CartID)
	if err != nil {
		return false, err
	}
	cat := r.Bot.Catalog()
	m, ok := cat.Merchant(c.MerchantID)
	if !ok || len(cart.Lines) == 0 {
		return false, r.Store.SkipReminder(ctx, commerce.CartReminderKey(c.CartID, step), r.Bot.Now().UTC())
	}
	any := false
	for _, l := range cart.Lines {
		o, _ := cat.Offer(c.MerchantID, l.OfferID)
		if r.available(ctx, o, l.Variant) {
			any = true
		}
	}
	if !any {
		// Everything in it sold out or ended: this step is off for good.
		return false, r.Store.SkipReminder(ctx, commerce.CartReminderKey(c.CartID, step), r.Bot.Now().UTC())
	}
	text, err := r.Bot.Templates.Private(m.ID, "dm_reminder_cart", PrivateData{
		Handle: c.Buyer.ScreenName, Merchant: m.ScreenName, Cart: cartSummary(cart), CartTotal: cart.Total().String(), Link: outbox.LinkPlaceholder,
	})
	if err != nil {
		return false, err
	}
	return true, r.Bot.Outbox.Enqueue(ctx, outbox.Message{
		Key: commerce.CartReminderKey(c.CartID, step), MerchantID: m.ID, Kind: outbox.KindDM, Priority: outbox.PriorityReminder,
		RecipientID: c.Buyer.XUserID, Text: text,
		Link: &outbox.Link{BuyerID: c.Buyer.XUserID, Target: commerce.LinkTarget{Kind: commerce.LinkCart, ID: cart.ID}, ExpiresAt: r.Bot.Now().Add(r.Bot.CartLinkTTL)},
	})
}

func (r *Reminders) hold(ctx context.Context, hr commerce.HoldReminder, step int) (bool, error) {
	cat := r.Bot.Catalog()
	m, ok := cat.Merchant(hr.MerchantID)
	o, okOffer := cat.Offer(hr.MerchantID, hr.OfferID)
	skip := func() (bool, error) {
		return false, r.Store.SkipReminder(ctx, commerce.HoldReminderKey(hr.MerchantID, hr.OfferID, hr.Buyer.XUserID, step), r.Bot.Now().UTC())
	}
	if !ok || !okOffer {
		return skip()
	}
	latest, err := r.Bot.Stores.Hold(ctx, hr.LatestHold)
	if err != nil {
		return false, err
	}
	h := latest
	if h.Status != commerce.HoldActive || !r.Bot.Now().Before(h.ExpiresAt) {
		// The hold ran out: hold again while stock remains.
		h, _, err = r.Bot.Shop.Buy(ctx, commerce.Match{Offer: o, Variant: latest.Variant, Quantity: latest.Quantity, Intent: commerce.IntentBuy}, hr.Buyer)
		var le *commerce.LimitError
		switch {
		case errors.Is(err, commerce.ErrSoldOut), errors.Is(err, commerce.ErrEnded), errors.Is(err, commerce.ErrNotOnSale), errors.As(err, &le):
			return skip()
		case err != nil:
			return false, err
		}
	}
	text, err := r.Bot.Templates.Private(m.ID, "dm_reminder_hold", PrivateData{
		Handle: hr.Buyer.ScreenName, Merchant: m.ScreenName, Title: o.Title, Variant: h.Variant, Quantity: h.Quantity,
		Total: h.Total().String(), HoldFor: humanDuration(h.ExpiresAt.Sub(r.Bot.Now())), Link: outbox.LinkPlaceholder,
	})
	if err != nil {
		return false, err
	}
	return true, r.Bot.Outbox.Enqueue(ctx, outbox.Message{
		Key: commerce.HoldReminderKey(hr.MerchantID, hr.OfferID, hr.Buyer.XUserID, step), MerchantID: m.ID, Kind: outbox.KindDM,
		Priority: outbox.PriorityReminder, RecipientID: hr.Buyer.XUserID, Text: text,
		Link: &outbox.Link{BuyerID: hr.Buyer.XUserID, Target: commerce.LinkTarget{Kind: commerce.LinkHold, ID: h.ID}, ExpiresAt: h.ExpiresAt},
	})
}
