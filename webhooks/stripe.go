package webhooks

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/commerce/stripepay"
)

// StripeSignatureHeader is the header Stripe signs its deliveries in.
const StripeSignatureHeader = "Stripe-Signature"

// StripeWebhook serves POST /webhooks/stripe, where Stripe delivers its
// events. A delivery is applied only once its signature has been checked
// (stripepay.Provider.Outcome: 300 s tolerance). Stripe delivers an event
// at least once and retries on any non-2xx answer, so the same event may
// come many times: the webhook applies every delivery, and deduplication by
// event id is Apply's job (commerce's ApplyPayment records each EventID and
// reports a repeat as Duplicate without touching the order again).
type StripeWebhook struct {
	Provider *stripepay.Provider
	// Apply applies a paid (or failed) outcome: the checkout's Apply. It
	// must be idempotent by EventID.
	Apply func(ctx context.Context, o commerce.PaymentOutcome) error
	// Release releases the hold of a pending order whose Checkout Session
	// expired unpaid. It must be idempotent and must leave a paid order
	// alone: an expired event may arrive late, or more than once.
	Release func(ctx context.Context, orderID int64) error
	// Log gets one line per delivery; never the body or the signature.
	Log *slog.Logger
	// Observer hears of signature failures; may be nil.
	Observer Observer
}

// Mount registers POST /webhooks/stripe. The answers follow Stripe's
// conventions: 400 for a missing, invalid or too old signature or an
// unreadable event (nothing applied), 500 when applying or releasing
// failed (Stripe retries), 200 otherwise, including for events hashcart
// ignores.
func (w *StripeWebhook) Mount(app fiber.Router) {
	app.Post("/webhooks/stripe", w.receive)
}

func (w *StripeWebhook) receive(c *fiber.Ctx) error {
	ctx := c.UserContext()
	header := c.Get(StripeSignatureHeader)
	o, released, err := w.Provider.Outcome(ctx, c.Body(), header)
	switch {
	case errors.Is(err, stripepay.ErrSignature):
		observer(w.Observer).SignatureRejected("stripe")
		w.Log.WarnContext(ctx, "stripe event signature rejected", "signed", header != "", "err", err)
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "missing or invalid " + StripeSignatureHeader})
	case errors.Is(err, stripepay.ErrMalformedEvent):
		w.Log.WarnContext(ctx, "stripe event malformed", "err", err)
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "malformed event"})
	case err != nil:
		w.Log.ErrorContext(ctx, "stripe event not read", "err", err)
		return c.Status(fiber.StatusInternalServerError).JSON(fiber.Map{"error": "event not applied; retry"})
	}
	switch {
	case released:
		if err := w.Release(ctx, o.OrderID); err != nil {
			w.Log.ErrorContext(ctx, "stripe expired session: hold not released", "event_id", o.EventID, "order_id", o.OrderID, "err", err)
			return c.Status(fiber.StatusInternalServerError).JSON(fiber.Map{"error": "event not applied; retry"})
		}
		w.Log.InfoContext(ctx, "stripe session expired; hold released", "event_id", o.EventID, "order_id", o.OrderID)
	case o.EventID != "":
		if err := w.Apply(ctx, o); err != nil {
			w.Log.ErrorContext(ctx, "stripe event not applied", "event_id", o.EventID, "order_id", o.OrderID, "err", err)
			return c.Status(fiber.StatusInternalServerError).JSON(fiber.Map{"error": "event not applied; retry"})
		}
		w.Log.InfoContext(ctx, "stripe event applied", "event_id", o.EventID, "order_id", o.OrderID, "paid", o.Paid)
	default:
		w.Log.DebugContext(ctx, "stripe event ignored")
	}
	return c.SendStatus(fiber.StatusOK)
}
