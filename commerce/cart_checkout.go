package commerce

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Key names a cart line on forms and in CartCheckout.Skip: its offer and
// variant.
func (l CartLine) Key() string { return l.OfferID + "|" + l.Variant }

// Total is the price of the line.
func (l CartLine) Total() Money {
	return Money{Amount: l.UnitPrice.Amount * int64(l.Quantity), Currency: l.UnitPrice.Currency}
}

// CartProblem is a cart line that could not be held at checkout, and why:
// ErrSoldOut, a *LimitError, ErrEnded, ErrNotOnSale, ErrVariantRequired
// (the variant is no longer offered) or ErrQuantityTooLarge.
type CartProblem struct {
	Line CartLine
	Err  error
}

// CartCheckoutError lists the lines of a cart that could not be held.
// Nothing was held: the buyer chooses to go on without them or not.
type CartCheckoutError struct {
	Problems []CartProblem
}

func (e *CartCheckoutError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Line.OfferID + ": " + p.Err.Error()
	}
	return "cart lines cannot be held: " + strings.Join(parts, "; ")
}

// CartCheckout asks the store to turn a cart's lines into holds.
type CartCheckout struct {
	CartID int64
	Buyer  Buyer
	// Check says whether a line may be held now and returns its offer, or
	// why not. The store calls it for each line it reads in its
	// transaction, so lines changed meanwhile are checked as they are.
	Check func(CartLine) (*Offer, error)
	// Skip holds the Keys of lines the buyer chose to leave out.
	Skip           map[string]bool
	Now, ExpiresAt time.Time
}

// CheckOutCart turns the buyer's cart into holds, all lines or none (see
// CartStore.CheckOutCart); skip names lines the buyer chose to leave out
// after being told they cannot be held. The holds last HoldFor, like a
// #BuyNow hold.
func (s *Shop) CheckOutCart(ctx context.Context, c Cart, cat *Catalog, skip map[string]bool) ([]Hold, error) {
	now := s.Now().UTC()
	check := func(l CartLine) (*Offer, error) {
		o, ok := cat.Offer(c.MerchantID, l.OfferID)
		if !ok {
			return nil, ErrEnded
		}
		if err := o.Availability(now); err != nil {
			return nil, err
		}
		if len(o.Variants) > 0 {
			if _, ok := o.Variant(l.Variant); !ok {
				return nil, ErrVariantRequired
			}
		} else if l.Variant != "" {
			return nil, ErrVariantRequired
		}
		if err := checkQuantity(o, l.Quantity); err != nil {
			return nil, err
		}
		return o, nil
	}
	holds, err := s.Carts.CheckOutCart(ctx, CartCheckout{
		CartID: c.ID, Buyer: Buyer{XUserID: c.BuyerID}, Check: check, Skip: skip, Now: now, ExpiresAt: now.Add(s.HoldFor),
	})
	if err != nil {
		return nil, fmt.Errorf("check out cart %d: %w", c.ID, err)
	}
	return holds, nil
}

// ChangeCartLine sets the quantity of a line of an open cart, within the
// offer's limit; 0 removes the line.
func (s *Shop) ChangeCartLine(ctx context.Context, c Cart, cat *Catalog, offerID, variant string, qty int) (Cart, error) {
	if qty < 0 || qty > MaxQuantity {
		return c, ErrQuantityTooLarge
	}
	if o, ok := cat.Offer(c.MerchantID, offerID); ok && qty > 0 {
		if o.PerCustomerLimit > 0 && qty > o.PerCustomerLimit {
			return c, &LimitError{Limit: o.PerCustomerLimit, Remaining: o.PerCustomerLimit}
		}
		if qty > QuantityChoices(o) {
			return c, ErrQuantityTooLarge
		}
	}
	return s.Carts.SetCartLine(ctx, c.ID, offerID, variant, qty, s.Now().UTC())
}

// ValidateFor checks a submission for an order of several offers (a
// cart's): Validate's checks, and a country every offer ships to.
func (s *Submission) ValidateFor(offers []*Offer) error {
	err := s.Validate(nil)
	errs, _ := err.(FieldErrors)
	if err != nil && errs == nil {
		return err
	}
	if _, bad := errs["country"]; !bad {
		for _, o := range offers {
			if o != nil && len(o.ShipTo) > 0 && !slices.Contains(o.ShipTo, s.Shipping.Country) {
				if errs == nil {
					errs = FieldErrors{}
				}
				errs["country"] = "Sorry, " + o.Title + " does not ship there."
				break
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// ShipsTo is the countries every offer ships to: nil when none restricts,
// empty when they have none in common.
func ShipsTo(offers []*Offer) []string {
	var out []string
	restricted := false
	for _, o := range offers {
		if o == nil || len(o.ShipTo) == 0 {
			continue
		}
		if !restricted {
			out, restricted = slices.Clone(o.ShipTo), true
			continue
		}
		out = slices.DeleteFunc(out, func(c string) bool { return !slices.Contains(o.ShipTo, c) })
	}
	if restricted && out == nil {
		out = []string{}
	}
	return out
}

// SubmitCart places one order for the holds of a checked-out cart and
// starts one payment for their total; it returns where to send the buyer.
// offers[i] is the offer of holds[i]. As Submit: ErrExpired when a hold
// has ended, ErrUsed when the order is already paid, FieldErrors for the
// form.
func (c *Checkout) SubmitCart(ctx context.Context, holds []Hold, offers []*Offer, s Submission) (string, Order, error) {
	if len(holds) == 0 || len(holds) != len(offers) {
		return "", Order{}, fmt.Errorf("submit cart: %d holds, %d offers: %w", len(holds), len(offers), ErrInvalid)
	}
	items := make([]OrderHold, len(holds))
	for i, h := range holds {
		items[i] = OrderHold{Hold: h, Title: offers[i].Title}
	}
	return c.submit(ctx, items, offers, s)
}
