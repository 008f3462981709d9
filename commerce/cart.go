package commerce

import (
	"context"
	"fmt"
	"time"
)

// Cart is a buyer's open basket with one merchant. Adding to a cart does
// not hold stock: units are held when the cart is checked out.
type Cart struct {
	ID         int64
	MerchantID string
	BuyerID    string
	Status     CartStatus
	Lines      []CartLine
	UpdatedAt  time.Time
}

// CartStatus is where a cart is in its life.
type CartStatus string

// Cart statuses.
const (
	CartOpen       CartStatus = "open"        // being filled; nothing held
	CartCheckedOut CartStatus = "checked_out" // its lines became holds (CheckOutCart)
	CartEmptied    CartStatus = "emptied"     // the buyer emptied it
)

// CartLine is one offer (and variant) in a cart.
type CartLine struct {
	OfferID   string
	Title     string
	Variant   string
	Quantity  int
	UnitPrice Money
}

// Total is the sum of the lines.
func (c Cart) Total() Money {
	var t Money
	for _, l := range c.Lines {
		t.Currency = l.UnitPrice.Currency
		t.Amount += l.UnitPrice.Amount * int64(l.Quantity)
	}
	return t
}

// Units is the number of units in the cart.
func (c Cart) Units() int {
	n := 0
	for _, l := range c.Lines {
		n += l.Quantity
	}
	return n
}

// CartAdd asks the store to add units to the buyer's open cart.
type CartAdd struct {
	Offer    *Offer
	Variant  string
	Quantity int
	Buyer    Buyer
	Now      time.Time
}

// CartStore keeps carts: at most one open cart per buyer and merchant.
type CartStore interface {
	// AddToCart adds the units to the buyer's open cart with the offer's
	// merchant, creating the cart if needed, and returns the cart. A line
	// for the same offer and variant grows; the line's quantity is capped
	// by the offer's per-customer limit (*LimitError beyond it).
	AddToCart(ctx context.Context, a CartAdd) (Cart, error)
	// OpenCart returns the buyer's open cart with the merchant, or
	// ErrNotFound.
	OpenCart(ctx context.Context, merchantID, buyerID string) (Cart, error)
	// CheckOutCart holds every line of an open cart that is not skipped, in
	// one transaction, and marks the cart checked out. When any line cannot
	// be held (c.Check's error, ErrSoldOut, a *LimitError) nothing changes
	// and a *CartCheckoutError lists every such line. A cart already
	// checked out returns the holds it got then. ErrNotFound when the cart
	// is not the buyer's open or checked-out cart; ErrInvalid when every
	// line is skipped.
	CheckOutCart(ctx context.Context, c CartCheckout) ([]Hold, error)
	// CartHolds returns the holds a cart got at its checkout, oldest first
	// (none while it is open).
	CartHolds(ctx context.Context, cartID int64) ([]Hold, error)
	// SetCartLine sets the quantity of a line of an open cart, 0 removing
	// it; ErrUsed once the cart is checked out, ErrNotFound without such a
	// line.
	SetCartLine(ctx context.Context, cartID int64, offerID, variant string, qty int, now time.Time) (Cart, error)
}

// AddToCart puts the matched units in the buyer's cart.
func (s *Shop) AddToCart(ctx context.Context, m Match, b Buyer) (Cart, error) {
	now := s.Now().UTC()
	if err := m.Offer.Availability(now); err != nil {
		return Cart{}, err
	}
	if err := checkQuantity(m.Offer, m.Quantity); err != nil {
		return Cart{}, err
	}
	c, err := s.Carts.AddToCart(ctx, CartAdd{Offer: m.Offer, Variant: m.Variant, Quantity: m.Quantity, Buyer: b, Now: now})
	if err != nil {
		return Cart{}, fmt.Errorf("add %s/%s to cart: %w", m.Offer.MerchantID, m.Offer.ID, err)
	}
	return c, nil
}
