package commerce

import (
	"context"
	"time"
)

// BuyerStore keeps what hashcart knows of a buyer beyond their orders:
// whether they want reminders, a question awaiting their answer by DM,
// and (with the checkout) their saved details.
type BuyerStore interface {
	// SetReminders turns reminders on or off for the buyer.
	SetReminders(ctx context.Context, b Buyer, on bool, now time.Time) error
	// AskQuestion records that the buyer was asked question (e.g.
	// "forget"); the next "yes" before expires answers it.
	AskQuestion(ctx context.Context, b Buyer, question string, expires time.Time) error
	// TakeQuestion returns and clears the buyer's open question ("" when
	// none is open or it expired).
	TakeQuestion(ctx context.Context, buyerID string, now time.Time) (string, error)
	// Forget erases the buyer's saved details (contact, address, payment
	// method reference) and preferences. Orders stay, as the merchants'
	// records of sale.
	Forget(ctx context.Context, buyerID string, now time.Time) error
}
