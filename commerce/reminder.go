package commerce

import (
	"context"
	"strconv"
	"time"
)

// CartReminder is an open cart that may be reminded of.
type CartReminder struct {
	CartID     int64
	MerchantID string
	Buyer      Buyer
	// Cursor is the cart's place among the step's candidates.
	Cursor ReminderCursor
}

// HoldReminder is a buyer who held an offer and has not bought it.
type HoldReminder struct {
	MerchantID string
	OfferID    string
	Buyer      Buyer
	// LatestHold is the buyer's newest hold on the offer.
	LatestHold int64
	// Cursor is the candidate's place among the step's candidates.
	Cursor ReminderCursor
}

// ReminderCursor orders a step's candidates: by the time their steps count
// from (a cart's last change, a buyer's first hold on the offer), then by
// row id. A run asks for the candidates after the last one of its previous
// batch, so each batch reads on from where the last stopped instead of
// past every candidate answered before it. The zero cursor is the start of
// the window.
type ReminderCursor struct {
	At time.Time
	ID int64
}

// ReminderStore finds what is due for a reminder step, among what crossed
// the step's threshold in a bounded window (so a tick reads only recent
// rows, whatever the size of the tables). Candidates exclude
// buyers who said stop, carts that are empty, buyers who bought since
// (for carts: any paid order with the merchant after the cart last
// changed; for holds: any paid order of the offer), and those whose
// reminder key for the step exists already.
type ReminderStore interface {
	// DueCartReminders returns open carts last changed in (since, before]
	// and after the cursor after, in cursor order.
	DueCartReminders(ctx context.Context, step int, since, before time.Time, after ReminderCursor, limit int) ([]CartReminder, error)
	// DueHoldReminders returns buyers whose first hold on an offer was
	// made in (since, before] and after the cursor after, in cursor order.
	DueHoldReminders(ctx context.Context, step int, since, before time.Time, after ReminderCursor, limit int) ([]HoldReminder, error)
	// SkipReminder records a step decided against (under its message key),
	// so that it is not a candidate again.
	SkipReminder(ctx context.Context, key string, now time.Time) error
}

// CartReminderKey is the outbox key of a cart's reminder step: one message
// per cart and step, ever.
func CartReminderKey(cartID int64, step int) string {
	return "reminder:cart:" + itoa(cartID) + ":" + itoa(int64(step))
}

// HoldReminderKey is the outbox key of a buyer's reminder step for an
// offer they held and did not buy.
func HoldReminderKey(merchantID, offerID, buyerID string, step int) string {
	return "reminder:hold:" + merchantID + "/" + offerID + "/" + buyerID + ":" + itoa(int64(step))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
