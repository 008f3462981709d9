package stripepay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hashcart/hashcart/commerce"
	"github.com/stripe/stripe-go/v85"
)

// ChargeSaved charges a saved card with the buyer away (a one-tap repeat
// buy): a PaymentIntent for r.Amount on m's Customer and method, with
// off_session and confirm set, metadata order_id, receipt_email r.Email
// (Stripe emails the receipt there), and the idempotency key
// "charge:" + r.Reference, so charging one order twice (a retried DM) is
// one charge.
//
// A succeeded PaymentIntent is returned as a paid outcome to apply:
// EventID "pi:" + its id, PaymentRef its id, Method m. When the bank asks
// for the buyer (Stripe's authentication_required card error, or an intent
// left in requires_action) the error wraps commerce.ErrAuthenticationRequired
// and the caller sends the buyer a link. Any other card error (a decline)
// wraps commerce.ErrInvalid: the saved card cannot pay this order. A method
// that is not a Stripe one, an incomplete request, or one Stripe refuses
// (invalid_request_error other than 409 and 429) is commerce.ErrInvalid;
// any other error (network, 5xx, 409, 429) is temporary and worth a retry
// with the same key.
func (p *Provider) ChargeSaved(ctx context.Context, r commerce.PaymentRequest, m commerce.SavedMethod) (commerce.PaymentOutcome, error) {
	if err := validRequest(r); err != nil {
		return commerce.PaymentOutcome{}, fmt.Errorf("stripe charge %s: %w", r.Reference, err)
	}
	if m.Provider != p.Name() || m.CustomerRef == "" || m.MethodRef == "" {
		return commerce.PaymentOutcome{}, fmt.Errorf("stripe charge %s: not a saved stripe method: %w", r.Reference, commerce.ErrInvalid)
	}
	params := &stripe.PaymentIntentCreateParams{
		Amount:        stripe.Int64(r.Amount.Amount),
		Currency:      stripe.String(strings.ToLower(r.Amount.Currency)),
		Customer:      stripe.String(m.CustomerRef),
		PaymentMethod: stripe.String(m.MethodRef),
		OffSession:    stripe.Bool(true),
		Confirm:       stripe.Bool(true),
	}
	if r.Description != "" {
		params.Description = stripe.String(r.Description)
	}
	if r.Email != "" {
		params.ReceiptEmail = stripe.String(r.Email)
	}
	params.AddMetadata(metaOrderID, strconv.FormatInt(r.OrderID, 10))
	params.SetIdempotencyKey("charge:" + r.Reference)
	pi, err := p.Client.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		var se *stripe.Error
		if errors.As(err, &se) && se.Type == stripe.ErrorTypeCard {
			if se.Code == stripe.ErrorCodeAuthenticationRequired {
				return commerce.PaymentOutcome{}, fmt.Errorf("stripe charge %s: %w", r.Reference, commerce.ErrAuthenticationRequired)
			}
			return commerce.PaymentOutcome{}, fmt.Errorf("stripe charge %s: card error %s/%s: %w", r.Reference, se.Code, se.DeclineCode, commerce.ErrInvalid)
		}
		if errors.As(err, &se) && se.Type == stripe.ErrorTypeInvalidRequest && se.HTTPStatusCode != http.StatusConflict && se.HTTPStatusCode != http.StatusTooManyRequests {
			// A request Stripe refuses (a method or Customer gone): asking
			// again gives the same answer.
			return commerce.PaymentOutcome{}, fmt.Errorf("stripe charge %s: refused: %v: %w", r.Reference, err, commerce.ErrInvalid)
		}
		return commerce.PaymentOutcome{}, fmt.Errorf("stripe charge %s: %w", r.Reference, err)
	}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
	case stripe.PaymentIntentStatusRequiresAction:
		return commerce.PaymentOutcome{}, fmt.Errorf("stripe charge %s: %s: %w", r.Reference, pi.ID, commerce.ErrAuthenticationRequired)
	default:
		return commerce.PaymentOutcome{}, fmt.Errorf("stripe charge %s: %s is %s, not succeeded", r.Reference, pi.ID, pi.Status)
	}
	method := m
	return commerce.PaymentOutcome{
		EventID:    "pi:" + pi.ID,
		OrderID:    r.OrderID,
		Paid:       true,
		PaymentRef: pi.ID,
		Method:     &method,
		Now:        p.Now(),
	}, nil
}
