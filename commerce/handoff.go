package commerce

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Delivery is a paid order to hand to its merchant.
type Delivery struct {
	ID         int64
	DeliveryID string
	MerchantID string
	OrderID    int64
	Attempts   int
	CreatedAt  time.Time
}

// HandoffStore queues deliveries to merchants.
type HandoffStore interface {
	// EnqueueDelivery queues a delivery in ctx's transaction, once per id.
	EnqueueDelivery(ctx context.Context, deliveryID, merchantID string, orderID int64, now time.Time) error
	// ClaimDeliveries leases due deliveries (see storage).
	ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Delivery, error)
	// FinishDelivery records an attempt.
	FinishDelivery(ctx context.Context, id int64, delivered, dead bool, next time.Time, lastError string, now time.Time) error
	// ReleaseDeliveries gives back claimed deliveries that were not
	// attempted, so that any instance may claim them at once.
	ReleaseDeliveries(ctx context.Context, ids []int64) error
}

// HandoffOrder is the JSON a merchant's order_webhook receives.
type HandoffOrder struct {
	DeliveryID string         `json:"delivery_id"`
	ID         string         `json:"id"`
	Merchant   string         `json:"merchant"`
	Status     string         `json:"status"`
	CreatedAt  time.Time      `json:"created_at"`
	Items      []HandoffItem  `json:"items"`
	Total      HandoffMoney   `json:"total"`
	Shipping   Address        `json:"shipping"`
	Email      string         `json:"email"`
	BuyerID    string         `json:"buyer_x_user_id"`
	Payment    HandoffPayment `json:"payment"`
}

// HandoffItem is a line of a handed-off order.
type HandoffItem struct {
	OfferID   string       `json:"offer_id"`
	Title     string       `json:"title"`
	Variant   string       `json:"variant,omitempty"`
	Quantity  int          `json:"quantity"`
	UnitPrice HandoffMoney `json:"unit_price"`
}

// HandoffMoney is an amount in minor units.
type HandoffMoney struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// HandoffPayment names the payment of a handed-off order.
type HandoffPayment struct {
	Provider  string `json:"provider"`
	Reference string `json:"reference,omitempty"`
}

// NewHandoffOrder is the merchant's view of an order: everything needed to
// ship it. The address goes to the merchant of this order only.
func NewHandoffOrder(deliveryID string, o Order) HandoffOrder {
	h := HandoffOrder{
		DeliveryID: deliveryID, ID: o.Reference(), Merchant: o.MerchantID, Status: string(o.Status), CreatedAt: o.CreatedAt.UTC(),
		Total: HandoffMoney{o.Total.Amount, o.Total.Currency}, Shipping: o.Shipping, Email: o.Contact.Email, BuyerID: o.BuyerID,
		Payment: HandoffPayment{Provider: o.Provider, Reference: o.PaymentRef},
	}
	for _, l := range o.Lines {
		h.Items = append(h.Items, HandoffItem{OfferID: l.OfferID, Title: l.Title, Variant: l.Variant, Quantity: l.Quantity,
			UnitPrice: HandoffMoney{l.UnitPrice.Amount, l.UnitPrice.Currency}})
	}
	return h
}

// SignDelivery is the Hashcart-Signature header of a delivery body, on
// Stripe's scheme: "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
func SignDelivery(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}
