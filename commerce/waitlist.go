package commerce

import (
	"context"
	"errors"
	"time"
)

// WaitlistEntry is a buyer waiting for a sold-out offer. Released units go
// to entries in the order they joined.
type WaitlistEntry struct {
	ID         int64
	MerchantID string
	OfferID    string
	Variant    string
	Quantity   int
	Buyer      Buyer
	// ReplyTo is the post the buyer replied to (for public answers).
	ReplyTo   string
	CreatedAt time.Time
}

// WaitlistStore keeps waitlists.
type WaitlistStore interface {
	// JoinWaitlist adds the buyer to the offer's waitlist, once: a buyer
	// already waiting keeps their place (joined = false).
	JoinWaitlist(ctx context.Context, o *Offer, e WaitlistEntry) (joined bool, err error)
	// NextWaiting returns up to limit waiting entries of the offer whose
	// units come from the stock counter key, oldest first, locking them
	// (rows another instance holds are skipped).
	NextWaiting(ctx context.Context, o *Offer, key string, limit int) ([]WaitlistEntry, error)
	// CloseEntry marks an entry served (holdID > 0) or dropped (holdID 0).
	CloseEntry(ctx context.Context, id, holdID int64, now time.Time) error
}

// JoinWaitlist puts a buyer who met a sold-out offer in its queue.
func (s *Shop) JoinWaitlist(ctx context.Context, m Match, b Buyer, replyTo string) (bool, error) {
	q := m.Quantity
	if q <= 0 {
		q = 1
	}
	return s.Waitlist.JoinWaitlist(ctx, m.Offer, WaitlistEntry{
		MerchantID: m.Offer.MerchantID, OfferID: m.Offer.ID, Variant: m.Variant, Quantity: q, Buyer: b, ReplyTo: replyTo, CreatedAt: s.Now().UTC(),
	})
}

// ServeWaitlist gives released units to the offer's waiting buyers in the
// order they joined: each served buyer gets a hold, and served is called
// (in the same transaction) to tell them. It stops when the units run
// out. A buyer who can no longer take units (over the limit, offer ended)
// is dropped from the queue.
func (s *Shop) ServeWaitlist(ctx context.Context, o *Offer, key string, inTx func(context.Context, func(context.Context) error) error,
	served func(ctx context.Context, e WaitlistEntry, h Hold) error) (int, error) {
	n := 0
	for {
		more := false
		err := inTx(ctx, func(ctx context.Context) error {
			entries, err := s.Waitlist.NextWaiting(ctx, o, key, 1)
			if err != nil || len(entries) == 0 {
				return err
			}
			e := entries[0]
			now := s.Now().UTC()
			h, _, err := s.Holds.Reserve(ctx, Reservation{Offer: o, Variant: e.Variant, Quantity: e.Quantity, Buyer: e.Buyer, Now: now, ExpiresAt: now.Add(s.HoldFor), FromWaitlist: true})
			switch {
			case errors.Is(err, ErrSoldOut):
				return nil // nothing left: the entry keeps its place
			case err != nil && (errors.Is(err, ErrOverLimit) || errors.Is(err, ErrEnded)):
				more = true
				return s.Waitlist.CloseEntry(ctx, e.ID, 0, now)
			case err != nil:
				return err
			}
			if err := s.Waitlist.CloseEntry(ctx, e.ID, h.ID, now); err != nil {
				return err
			}
			n++
			more = true
			return served(ctx, e, h)
		})
		if err != nil || !more {
			return n, err
		}
	}
}
