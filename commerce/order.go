package commerce

import (
	"context"
	"fmt"
	"time"
)

// OrderStatus is where an order is in its life. The allowed moves are in
// one place, CanBecome; every store that changes a status checks it.
type OrderStatus string

// Order statuses.
const (
	OrderPending   OrderStatus = "pending"   // details given, payment under way
	OrderPaid      OrderStatus = "paid"      // paid (or claimed, for a giveaway): the units are sold
	OrderFulfilled OrderStatus = "fulfilled" // handed over by the merchant
	OrderRefunded  OrderStatus = "refunded"  // money returned
	OrderCancelled OrderStatus = "cancelled" // never paid
)

var orderMoves = map[OrderStatus][]OrderStatus{
	OrderPending:   {OrderPaid, OrderCancelled, OrderRefunded},
	OrderPaid:      {OrderFulfilled, OrderRefunded},
	OrderFulfilled: {OrderRefunded},
}

// CanBecome reports whether an order may move from s to next.
func (s OrderStatus) CanBecome(next OrderStatus) bool {
	for _, n := range orderMoves[s] {
		if n == next {
			return true
		}
	}
	return false
}

// Address is a shipping address. It is personal data: stored only
// encrypted, shown only to its buyer and to the merchant of an order.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// Short is the address as a confirmation names it: "Brooklyn, NY".
func (a Address) Short() string {
	if a.Region != "" {
		return a.City + ", " + a.Region
	}
	return a.City + ", " + a.Country
}

// Contact is how to reach a buyer about an order.
type Contact struct {
	Email string `json:"email"`
}

// SavedMethod is a payment method kept by the provider for a buyer: only
// the provider's references and what a person needs to recognise it.
type SavedMethod struct {
	Provider    string
	CustomerRef string
	MethodRef   string
	Brand       string
	Last4       string
}

// Label is how the method is named to its owner: "Visa ending 4242".
func (m SavedMethod) Label() string {
	return fmt.Sprintf("%s ending %s", m.Brand, m.Last4)
}

// OrderLine is one item of an order, priced when the order was made.
type OrderLine struct {
	OfferID   string
	Title     string
	Variant   string
	Quantity  int
	UnitPrice Money
}

// OrderEvent is one step of an order's timeline.
type OrderEvent struct {
	At     time.Time
	Status OrderStatus
	Note   string
}

// Order is a purchase (or a claim) by one buyer from one merchant.
type Order struct {
	ID         int64
	MerchantID string
	BuyerID    string
	HoldID     int64
	Status     OrderStatus
	Lines      []OrderLine
	Total      Money
	Shipping   Address
	Contact    Contact
	// Provider and PaymentRef name the payment ("sandbox", "ch_..."); empty
	// for a giveaway.
	Provider   string
	PaymentRef string
	// Method is the method that paid, when known.
	Method    *SavedMethod
	CreatedAt time.Time
	Timeline  []OrderEvent
}

// Reference is the order's public reference, for the buyer and the merchant.
func (o Order) Reference() string { return fmt.Sprintf("HC-%06d", o.ID) }

// PlaceOrder asks the store to create a pending order for an active hold,
// or for several (a cart).
type PlaceOrder struct {
	Hold  Hold
	Title string
	// Items, when set, are all the holds the order pays for (a cart's
	// order), oldest first; Hold and Title are then Items[0]'s.
	Items    []OrderHold
	Shipping Address
	Contact  Contact
	Provider string
	Now      time.Time
	// HoldUntil, when set, extends each active hold of the order that
	// ends sooner to end then, in the order's transaction (a payment
	// session that cannot be shorter keeps the stock reserved).
	HoldUntil time.Time
}

// OrderHold is a hold an order pays for, with the title it is sold under.
type OrderHold struct {
	Hold  Hold
	Title string
}

// PaymentOutcome is what a provider reported about an order's payment.
type PaymentOutcome struct {
	// EventID is the provider's id for the report; a report is applied
	// once, whatever the number of deliveries.
	EventID    string
	OrderID    int64
	Paid       bool
	PaymentRef string
	Method     *SavedMethod
	// Reason says why a payment failed, for the buyer ("card declined").
	Reason string
	Now    time.Time
}

// PaymentResult is what applying an outcome did.
type PaymentResult struct {
	Order Order
	// Duplicate is true when the report had been applied before.
	Duplicate bool
	// NeedsRefund is true when the payment arrived after the hold expired
	// and the stock was gone (for a cart's order: the stock of any of its
	// holds; then none is sold): the order is refunded and the buyer told.
	NeedsRefund bool
}

// OrderStore keeps orders. Implementations make the hold-to-sale move
// atomic: the order becomes paid, the hold converted and its units sold, in
// one transaction, or none of it happens.
type OrderStore interface {
	// PlaceOrder creates a pending order for an active hold, or returns the
	// pending order already placed for it (details updated).
	PlaceOrder(ctx context.Context, p PlaceOrder) (Order, error)
	// ApplyPayment records a provider's outcome (see PaymentResult).
	ApplyPayment(ctx context.Context, o PaymentOutcome) (PaymentResult, error)
	// Order returns an order by id, or ErrNotFound.
	Order(ctx context.Context, id int64) (Order, error)
	// OrderForHold returns the order placed for a hold (alone or with the
	// other holds of its cart), or ErrNotFound.
	OrderForHold(ctx context.Context, holdID int64) (Order, error)
	// OrderForCart returns the order placed for a checked-out cart, or
	// ErrNotFound.
	OrderForCart(ctx context.Context, cartID int64) (Order, error)
	// BuyerOrders returns a buyer's orders, newest first.
	BuyerOrders(ctx context.Context, buyerID string) ([]Order, error)
	// SetOrderStatus moves an order along CanBecome, with a note for the
	// timeline; ErrConflict when the move is not allowed.
	SetOrderStatus(ctx context.Context, id int64, to OrderStatus, note string, now time.Time) (Order, error)
}

// SavedDetails is what a buyer chose to keep for their next purchase.
type SavedDetails struct {
	Shipping Address
	Contact  Contact
	Method   *SavedMethod
}

// DetailsStore keeps buyers' saved details (addresses encrypted at rest).
type DetailsStore interface {
	// SavedDetails returns the buyer's saved details, or ErrNotFound.
	SavedDetails(ctx context.Context, buyerID string) (SavedDetails, error)
	// SaveDetails replaces the buyer's saved details.
	SaveDetails(ctx context.Context, buyerID string, d SavedDetails, now time.Time) error
}

// PaymentRequest asks a provider to take a payment for an order.
type PaymentRequest struct {
	OrderID     int64
	Reference   string // the order's reference; also the idempotency key
	BuyerID     string
	Amount      Money
	Description string
	Email       string
	// ReturnURL is where the buyer lands after paying; CancelURL takes them
	// back to the checkout page.
	ReturnURL, CancelURL string
	// ExpiresAt is when the hold ends: the payment must not outlive it.
	ExpiresAt time.Time
	// SaveMethod asks the provider to keep the method for next time.
	SaveMethod bool
}

// PaymentSession is a started payment: where to send the buyer.
type PaymentSession struct {
	ID          string
	RedirectURL string
}

// PaymentProvider takes payments. Outcomes come back asynchronously as
// signed events (ApplyPayment), as with a real provider.
type PaymentProvider interface {
	// Name is the provider's config name ("sandbox", "stripe").
	Name() string
	// StartPayment starts a hosted payment and says where to send the buyer.
	StartPayment(ctx context.Context, r PaymentRequest) (PaymentSession, error)
	// Refund returns a payment in full.
	Refund(ctx context.Context, paymentRef string, amount Money, idempotencyKey string) error
	// ChargeSaved charges a saved method with the buyer away (one-tap
	// repeat buys) and returns the outcome to apply. The same request
	// (same Reference) must yield the same charge. ErrAuthenticationRequired
	// when the buyer has to confirm on a page.
	ChargeSaved(ctx context.Context, r PaymentRequest, m SavedMethod) (PaymentOutcome, error)
	// MinSessionLife is the shortest a hosted payment may last at the
	// provider (Stripe: 30 minutes, with margins), 0 when any expiry is
	// accepted. When a payment starts, the order's holds are extended to
	// end no sooner than this from now, so the payment never outlives
	// them.
	MinSessionLife() time.Duration
}
