package commerce

import (
	"context"
	"fmt"
	"time"
)

// Buyer is a shopper, known by their X account.
type Buyer struct {
	XUserID    string
	ScreenName string
}

// HoldStatus is where a hold is in its life.
type HoldStatus string

// Hold statuses.
const (
	HoldActive    HoldStatus = "active"    // units set aside until ExpiresAt
	HoldExpired   HoldStatus = "expired"   // time ran out; units returned
	HoldReleased  HoldStatus = "released"  // given up (cart emptied, checkout cancelled); units returned
	HoldConverted HoldStatus = "converted" // paid: the units are sold
)

// Hold is units of one offer (and variant) set aside for one buyer.
type Hold struct {
	ID         int64
	MerchantID string
	OfferID    string
	Variant    string
	BuyerID    string
	Quantity   int
	UnitPrice  Money
	Status     HoldStatus
	CreatedAt  time.Time
	ExpiresAt  time.Time
	// CartID is the cart the hold was made for at its checkout, 0 for a
	// hold of its own (#BuyNow). A cart's holds are paid only together,
	// through the cart's link.
	CartID int64
	// LinkOpened reports whether the hold's checkout page has been opened
	// (the merchant's funnel counts it once).
	LinkOpened bool
}

// Total is the price of the held units.
func (h Hold) Total() Money {
	return Money{Amount: h.UnitPrice.Amount * int64(h.Quantity), Currency: h.UnitPrice.Currency}
}

// Reservation asks the store to hold units.
type Reservation struct {
	Offer     *Offer
	Variant   string
	Quantity  int
	Buyer     Buyer
	Now       time.Time
	ExpiresAt time.Time
	// FromWaitlist is set when the buyer's turn on the waitlist came:
	// other reservations queue behind waiting buyers.
	FromWaitlist bool
}

// HoldStore keeps stock and holds. Implementations make Reserve atomic
// across every process sharing the database: stock is never oversold, and
// a buyer has at most one active hold per offer.
type HoldStore interface {
	// Reserve holds r.Quantity units for r.Buyer. When the buyer already
	// has an active, unexpired hold on the offer it is returned with
	// reused = true and nothing changes. Errors: ErrSoldOut when too few
	// units remain (holds that expired are released first), a *LimitError
	// when the buyer's active and bought units plus r.Quantity exceed the
	// offer's per-customer limit.
	Reserve(ctx context.Context, r Reservation) (h Hold, reused bool, err error)
	// LatestActiveHold returns the buyer's newest active, unexpired hold
	// with the merchant, or ErrNotFound.
	LatestActiveHold(ctx context.Context, merchantID, buyerID string, now time.Time) (Hold, error)
	// Remaining returns the units left to hold per stock counter of the
	// offer (nil values for unlimited counters).
	Remaining(ctx context.Context, o *Offer) (map[string]*int, error)
	// AdjustHold changes an active hold's variant and quantity atomically;
	// ErrSoldOut or a *LimitError leave it unchanged, ErrExpired when it
	// has ended.
	AdjustHold(ctx context.Context, holdID int64, o *Offer, variant string, qty int, now time.Time) (Hold, error)
}

// Shop applies an offer's rules before asking the stores to hold stock or
// fill a cart.
type Shop struct {
	Holds    HoldStore
	Carts    CartStore
	Waitlist WaitlistStore
	// HoldFor is how long a hold keeps units (checkout.hold).
	HoldFor time.Duration
	Now     func() time.Time
}

// MaxQuantity bounds the units of one request.
const MaxQuantity = 99

// Buy holds the matched units for the buyer, or returns the buyer's
// existing hold on the offer (reused = true).
func (s *Shop) Buy(ctx context.Context, m Match, b Buyer) (Hold, bool, error) {
	now := s.Now().UTC()
	if err := m.Offer.Availability(now); err != nil {
		return Hold{}, false, err
	}
	if err := checkQuantity(m.Offer, m.Quantity); err != nil {
		return Hold{}, false, err
	}
	h, reused, err := s.Holds.Reserve(ctx, Reservation{
		Offer: m.Offer, Variant: m.Variant, Quantity: m.Quantity, Buyer: b,
		Now: now, ExpiresAt: now.Add(s.HoldFor),
	})
	if err != nil {
		return Hold{}, false, fmt.Errorf("reserve %s/%s: %w", m.Offer.MerchantID, m.Offer.ID, err)
	}
	return h, reused, nil
}

func checkQuantity(o *Offer, q int) error {
	if q > MaxQuantity {
		return ErrQuantityTooLarge
	}
	if o.PerCustomerLimit > 0 && q > o.PerCustomerLimit {
		return &LimitError{Limit: o.PerCustomerLimit, Remaining: o.PerCustomerLimit}
	}
	return nil
}

// MaxChoice is the largest quantity the checkout page offers when the
// offer has no per-customer limit.
const MaxChoice = 10

// QuantityChoices is the range of quantities a buyer may pick for o.
func QuantityChoices(o *Offer) int {
	if o.PerCustomerLimit > 0 {
		return min(o.PerCustomerLimit, MaxChoice)
	}
	return MaxChoice
}

// ChangeHold changes the variant and quantity of a buyer's hold, within the
// offer's variants and limits.
func (s *Shop) ChangeHold(ctx context.Context, h Hold, o *Offer, variant string, qty int) (Hold, error) {
	if qty < 1 || qty > QuantityChoices(o) {
		if o.PerCustomerLimit > 0 && qty > o.PerCustomerLimit {
			return h, &LimitError{Limit: o.PerCustomerLimit, Remaining: o.PerCustomerLimit}
		}
		return h, ErrQuantityTooLarge
	}
	if len(o.Variants) > 0 {
		if _, ok := o.Variant(variant); !ok {
			return h, ErrVariantRequired
		}
	} else {
		variant = ""
	}
	return s.Holds.AdjustHold(ctx, h.ID, o, variant, qty, s.Now().UTC())
}
