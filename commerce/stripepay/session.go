package stripepay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/stripe/stripe-go/v85"
)

// Stripe accepts a Checkout Session's expires_at from 30 minutes to 24
// hours after its creation. The margins keep a request that takes a while
// to arrive (or a clock a little off) inside that window.
const (
	minSessionLife = 30*time.Minute + time.Minute
	maxSessionLife = 24*time.Hour - time.Minute
)

// Metadata keys set on sessions and PaymentIntents.
const (
	metaOrderID    = "order_id"
	metaSaveMethod = "save_method"
)

// StartPayment opens a Stripe Checkout Session for the order and returns
// its id and URL. The session is in mode payment for the buyer's Customer
// (found or created through Customers), with one line item of
// r.Amount (currency lower-cased) named r.Description, client_reference_id
// = r.Reference, metadata order_id (and save_method when r.SaveMethod, which
// also sets payment_intent_data.setup_future_usage = off_session so the
// card can pay the next order with one tap), success_url = r.ReturnURL and
// cancel_url = r.CancelURL. r.Email, the address the buyer gave on the
// checkout page, is payment_intent_data.receipt_email: Stripe emails the
// receipt there once the payment succeeds.
//
// expires_at is r.ExpiresAt, but Stripe only accepts 30 minutes to 24 hours
// ahead. commerce extends a shorter hold to MinSessionLife from now before
// calling, so the session ends exactly with the hold. As a safety net for
// other callers, a hold ending sooner than 31 minutes from now still gets a
// session expiring 31 minutes from now, and a longer one is cut to 23 h 59
// min; the hold, not the session, bounds the sale: a session paid after its
// hold ended and its stock went to someone else is refunded by commerce
// (PaymentResult.NeedsRefund), never honoured.
//
// The idempotency key is "checkout:" + r.Reference + ":" + a digest of
// every parameter sent: a retried request (stripe-go's own retries, or the
// same submission again) yields the same session, while a changed request
// for the same order (another choice on the form, or a new clamped expiry)
// gets a new session instead of Stripe's idempotency error.
//
// A hold that has already ended is commerce.ErrExpired; a request missing
// its order, reference, a positive amount, a currency or absolute return
// and cancel URLs is commerce.ErrInvalid.
func (p *Provider) StartPayment(ctx context.Context, r commerce.PaymentRequest) (commerce.PaymentSession, error) {
	if err := validRequest(r); err != nil {
		return commerce.PaymentSession{}, fmt.Errorf("stripe checkout %s: %w", r.Reference, err)
	}
	for _, u := range []string{r.ReturnURL, r.CancelURL} {
		if !absoluteURL(u) {
			return commerce.PaymentSession{}, fmt.Errorf("stripe checkout %s: url %q is not absolute: %w", r.Reference, u, commerce.ErrInvalid)
		}
	}
	now := p.Now()
	if !now.Before(r.ExpiresAt) {
		return commerce.PaymentSession{}, fmt.Errorf("stripe checkout %s: hold ended: %w", r.Reference, commerce.ErrExpired)
	}
	cus, err := p.customer(ctx, r.BuyerID)
	if err != nil {
		return commerce.PaymentSession{}, fmt.Errorf("stripe checkout %s: %w", r.Reference, err)
	}
	name := r.Description
	if name == "" {
		name = r.Reference
	}
	orderID := strconv.FormatInt(r.OrderID, 10)
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID: stripe.String(r.Reference),
		Customer:          stripe.String(cus),
		ExpiresAt:         stripe.Int64(SessionExpiry(now, r.ExpiresAt).Unix()),
		SuccessURL:        stripe.String(r.ReturnURL),
		CancelURL:         stripe.String(r.CancelURL),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripe.String(strings.ToLower(r.Amount.Currency)),
				UnitAmount:  stripe.Int64(r.Amount.Amount),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String(name)},
			},
		}},
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{},
	}
	params.AddMetadata(metaOrderID, orderID)
	params.PaymentIntentData.AddMetadata(metaOrderID, orderID)
	if r.Email != "" {
		params.PaymentIntentData.ReceiptEmail = stripe.String(r.Email)
	}
	if r.SaveMethod {
		params.AddMetadata(metaSaveMethod, "true")
		params.PaymentIntentData.SetupFutureUsage = stripe.String("off_session")
	}
	params.SetIdempotencyKey(checkoutKey(r.Reference, cus, name, *params.ExpiresAt, r))
	s, err := p.Client.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return commerce.PaymentSession{}, fmt.Errorf("stripe checkout %s: %w", r.Reference, err)
	}
	if s.URL == "" {
		return commerce.PaymentSession{}, fmt.Errorf("stripe checkout %s: session %s has no url", r.Reference, s.ID)
	}
	return commerce.PaymentSession{ID: s.ID, RedirectURL: s.URL}, nil
}

// EmailsReceipts implements commerce.ReceiptEmailer: StartPayment and
// ChargeSaved give Stripe the buyer's email as receipt_email.
func (p *Provider) EmailsReceipts() bool { return true }

// MinSessionLife is 32 minutes: Stripe's 30-minute minimum, the minute of
// margin SessionExpiry keeps, and a minute for the request to arrive.
// commerce extends a hold ending sooner to now+32 min before the session is
// made, so SessionExpiry leaves the hold's end unchanged and the session
// ends with the hold.
func (p *Provider) MinSessionLife() time.Duration { return minSessionLife + time.Minute }

// SessionExpiry is the expires_at StartPayment sends at now for a hold
// ending at holdEnds: holdEnds, kept between 31 minutes and 23 h 59 min
// from now (Stripe's window with a minute's margin).
func SessionExpiry(now, holdEnds time.Time) time.Time {
	lo, hi := now.Add(minSessionLife), now.Add(maxSessionLife)
	switch {
	case holdEnds.Before(lo):
		return lo.Truncate(time.Second)
	case holdEnds.After(hi):
		return hi.Truncate(time.Second)
	}
	return holdEnds
}

// checkoutKey is the session's idempotency key: the reference and a digest
// of the parameters, so only an identical request is deduplicated.
func checkoutKey(reference, customer, name string, expiresAt int64, r commerce.PaymentRequest) string {
	h := sha256.New()
	for _, s := range []string{
		customer, name, strconv.FormatInt(r.OrderID, 10),
		strconv.FormatInt(r.Amount.Amount, 10), strings.ToLower(r.Amount.Currency),
		strconv.FormatInt(expiresAt, 10), strconv.FormatBool(r.SaveMethod),
		r.ReturnURL, r.CancelURL, r.Email,
	} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "checkout:" + reference + ":" + hex.EncodeToString(h.Sum(nil))[:16]
}

// validRequest checks what both StartPayment and ChargeSaved need.
func validRequest(r commerce.PaymentRequest) error {
	if r.OrderID <= 0 || r.Reference == "" || r.Amount.Amount <= 0 || len(r.Amount.Currency) != 3 {
		return fmt.Errorf("order, reference, a positive amount and a currency are required: %w", commerce.ErrInvalid)
	}
	return nil
}

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
