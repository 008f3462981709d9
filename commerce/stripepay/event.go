package stripepay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"
)

// Errors VerifyEvent and Outcome return for a delivery that must not be
// applied; the webhook answers both with 400.
var (
	// ErrSignature means the Stripe-Signature header is missing,
	// malformed, matches no signature of the body under WebhookSecret, or
	// was made more than SignatureTolerance from Now.
	ErrSignature = errors.New("invalid stripe event signature")
	// ErrMalformedEvent means a correctly signed body is not an event
	// hashcart can read.
	ErrMalformedEvent = errors.New("malformed stripe event")
)

// SignatureTolerance is how far a signature's time may be from Now, either
// way, before an event is refused (Stripe's default, against replays).
const SignatureTolerance = 300 * time.Second

// ReasonAsyncFailed is the outcome's Reason when a delayed payment method
// (a bank debit) fails after the session completed.
const ReasonAsyncFailed = "Your payment could not be completed."

// VerifyEvent checks a webhook delivery and says what it means for an
// order. body is the raw request body and header the Stripe-Signature
// value. The signature is checked by stripe-go (webhook.ConstructEventWithOptions:
// HMAC-SHA256, any matching v1 entry) but its age against p.Now, not the
// wall clock, so the 300 s window follows the injected clock; a signature
// from more than SignatureTolerance ago (or ahead) is ErrSignature. The
// event's API version is not compared with stripe-go's: only fields stable
// across versions are read (id, type, and the session's id, metadata,
// client_reference_id, payment_status and payment_intent).
//
// checkout.session.completed with payment_status paid, and
// checkout.session.async_payment_succeeded, give a paid outcome: EventID the
// event id, OrderID from the session's order_id metadata (or its
// client_reference_id "HC-000042"), PaymentRef the PaymentIntent id.
// checkout.session.async_payment_failed gives an unpaid outcome with
// ReasonAsyncFailed. checkout.session.expired gives released = true and
// an outcome carrying only EventID and OrderID: the caller releases the
// hold. A completed session still unpaid (a delayed method), a session
// hashcart did not create (no order), and every other event type are
// ignored: a zero outcome, released false and no error.
//
// The event alone does not carry the card's brand and last 4, so Method is
// always nil here; Outcome fetches it when the buyer asked to keep it.
func (p *Provider) VerifyEvent(body []byte, header string) (commerce.PaymentOutcome, bool, error) {
	v, err := p.verify(body, header)
	return v.outcome, v.released, err
}

// Outcome is VerifyEvent followed, for a paid session whose buyer asked to
// keep the method, by a request for the PaymentIntent with its payment
// method expanded, which fills Method (provider "stripe", Customer and
// PaymentMethod ids, brand as people write it and last 4) so that the next
// purchase can be one tap. A method that is not a card is not kept (Method
// nil). An error from that request is returned (not ErrSignature nor
// ErrMalformedEvent): the webhook answers 500 and Stripe delivers again.
func (p *Provider) Outcome(ctx context.Context, body []byte, header string) (commerce.PaymentOutcome, bool, error) {
	v, err := p.verify(body, header)
	o, released := v.outcome, v.released
	if err != nil || !o.Paid || !v.save {
		return o, released, err
	}
	params := &stripe.PaymentIntentRetrieveParams{}
	params.AddExpand("payment_method")
	pi, err := p.Client.V1PaymentIntents.Retrieve(ctx, o.PaymentRef, params)
	if err != nil {
		return commerce.PaymentOutcome{}, false, fmt.Errorf("stripe event %s: payment method of %s: %w", o.EventID, o.PaymentRef, err)
	}
	customer := v.customer
	if pi.Customer != nil && pi.Customer.ID != "" {
		customer = pi.Customer.ID
	}
	pm := pi.PaymentMethod
	if pm == nil || pm.Card == nil || pm.ID == "" || customer == "" {
		return o, false, nil
	}
	o.Method = &commerce.SavedMethod{
		Provider:    p.Name(),
		CustomerRef: customer,
		MethodRef:   pm.ID,
		Brand:       brandName(pm.Card.Brand),
		Last4:       pm.Card.Last4,
	}
	return o, false, nil
}

// verified is what verify read from an event.
type verified struct {
	outcome  commerce.PaymentOutcome
	released bool
	// save is true when the session asked to keep the method; customer is
	// the session's Customer.
	save     bool
	customer string
}

// verify is VerifyEvent, also saying whether the session asked to save the
// method and for which Customer.
func (p *Provider) verify(body []byte, header string) (verified, error) {
	if p.WebhookSecret == "" {
		return verified{}, errors.New("verify stripe event: no webhook secret configured")
	}
	signed, err := signedAt(header)
	if err != nil {
		return verified{}, err
	}
	e, err := webhook.ConstructEventWithOptions(body, header, p.WebhookSecret, webhook.ConstructEventOptions{
		IgnoreTolerance:          true, // checked below, against p.Now
		IgnoreAPIVersionMismatch: true,
	})
	switch {
	case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return verified{}, fmt.Errorf("verify stripe event: %v: %w", err, ErrSignature)
	case err != nil:
		return verified{}, fmt.Errorf("verify stripe event: %v: %w", err, ErrMalformedEvent)
	}
	now := p.Now()
	if age := now.Sub(signed); age > SignatureTolerance || age < -SignatureTolerance {
		return verified{}, fmt.Errorf("verify stripe event %s: signed %s from now: %w", e.ID, age.Round(time.Second), ErrSignature)
	}
	switch e.Type {
	case stripe.EventTypeCheckoutSessionCompleted, stripe.EventTypeCheckoutSessionAsyncPaymentSucceeded,
		stripe.EventTypeCheckoutSessionAsyncPaymentFailed, stripe.EventTypeCheckoutSessionExpired:
	default:
		return verified{}, nil
	}
	if e.ID == "" || e.Data == nil {
		return verified{}, fmt.Errorf("verify stripe event: no id or data: %w", ErrMalformedEvent)
	}
	var s stripe.CheckoutSession
	if err := json.Unmarshal(e.Data.Raw, &s); err != nil {
		return verified{}, fmt.Errorf("verify stripe event %s: session: %w", e.ID, ErrMalformedEvent)
	}
	orderID, ok := sessionOrder(s)
	if !ok {
		return verified{}, nil // not a hashcart session
	}
	o := commerce.PaymentOutcome{EventID: e.ID, OrderID: orderID, Now: now}
	switch e.Type {
	case stripe.EventTypeCheckoutSessionExpired:
		return verified{outcome: o, released: true}, nil
	case stripe.EventTypeCheckoutSessionCompleted:
		if s.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
			return verified{}, nil // a delayed method: async_payment_* follows
		}
	case stripe.EventTypeCheckoutSessionAsyncPaymentFailed:
		o.Reason = ReasonAsyncFailed
		if s.PaymentIntent != nil {
			o.PaymentRef = s.PaymentIntent.ID
		}
		return verified{outcome: o}, nil
	}
	if s.PaymentIntent == nil || s.PaymentIntent.ID == "" {
		return verified{}, fmt.Errorf("verify stripe event %s: paid session without a payment intent: %w", e.ID, ErrMalformedEvent)
	}
	o.Paid, o.PaymentRef = true, s.PaymentIntent.ID
	v := verified{outcome: o, save: s.Metadata[metaSaveMethod] == "true"}
	if s.Customer != nil {
		v.customer = s.Customer.ID
	}
	return v, nil
}

// signedAt reads the t= entry of a Stripe-Signature header.
func signedAt(header string) (time.Time, error) {
	if header == "" {
		return time.Time{}, fmt.Errorf("verify stripe event: no signature: %w", ErrSignature)
	}
	for _, part := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "t="); ok {
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				break
			}
			return time.Unix(ts, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("verify stripe event: malformed signature: %w", ErrSignature)
}

// sessionOrder is the order a session pays: its order_id metadata, or its
// client_reference_id read as an order reference ("HC-000042").
func sessionOrder(s stripe.CheckoutSession) (int64, bool) {
	if id, err := strconv.ParseInt(s.Metadata[metaOrderID], 10, 64); err == nil && id > 0 {
		return id, true
	}
	if rest, ok := strings.CutPrefix(s.ClientReferenceID, "HC-"); ok {
		if id, err := strconv.ParseInt(rest, 10, 64); err == nil && id > 0 {
			return id, true
		}
	}
	return 0, false
}

// brandName writes a card brand as SavedMethod.Label shows it ("Visa").
func brandName(b stripe.PaymentMethodCardBrand) string {
	switch b {
	case "visa":
		return "Visa"
	case "mastercard":
		return "Mastercard"
	case "amex":
		return "American Express"
	case "discover":
		return "Discover"
	case "diners":
		return "Diners Club"
	case "jcb":
		return "JCB"
	case "unionpay":
		return "UnionPay"
	case "cartes_bancaires":
		return "Cartes Bancaires"
	case "eftpos_au":
		return "eftpos"
	case "", "unknown":
		return "Card"
	}
	return string(b)
}
