package commerce

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// RunTask performs a provider task outside any transaction and applies its
// outcome in a transaction of its own. It returns nil when the task is
// finished (its end recorded in the store): a charge paid (the order's
// Apply, with its confirmation DM), refused (the OneTapFailure DM, with the
// link), or no longer needed (the order was paid or closed meanwhile); a
// forget done at the provider. Any other error is temporary (the provider
// unreachable or answering 5xx, the database busy): the task is left to the
// caller to retry with the same idempotency key, or to give up
// (GiveUpTask).
//
// Running a task again after a crash is safe: a charge uses the idempotency
// key "charge:" + the order's reference, so the provider answers with the
// same payment, and Apply applies a payment once.
func (c *Checkout) RunTask(ctx context.Context, t ProviderTask) error {
	switch t.Kind {
	case TaskCharge:
		return c.runCharge(ctx, t)
	case TaskForget:
		f, ok := c.Provider.(BuyerForgetter)
		if ok && c.Provider.Name() == t.Provider {
			if err := f.ForgetBuyer(ctx, t.BuyerID); err != nil {
				return fmt.Errorf("forget buyer at %s: %w", t.Provider, err)
			}
		} else {
			c.Log.Warn("forget task for a provider no longer configured; forget the buyer there by hand", "provider", t.Provider, "buyer", t.BuyerID)
		}
		return c.finish(ctx, t, TaskDone, "")
	}
	c.Log.Error("unknown provider task dropped", "task", t.Key, "kind", t.Kind)
	return c.finish(ctx, t, TaskDead, "unknown kind")
}

func (c *Checkout) finish(ctx context.Context, t ProviderTask, st TaskStatus, msg string) error {
	now := c.Now().UTC()
	return c.Tasks.FinishTask(ctx, t.ID, st, now, msg, now)
}

func (c *Checkout) runCharge(ctx context.Context, t ProviderTask) error {
	order, err := c.Orders.Order(ctx, t.OrderID)
	if errors.Is(err, ErrNotFound) {
		return c.finish(ctx, t, TaskDead, "order not found")
	}
	if err != nil {
		return err
	}
	if order.Status != OrderPending {
		return c.finish(ctx, t, TaskDone, "order already "+string(order.Status))
	}
	if !t.Deadline.IsZero() && !c.Now().Before(t.Deadline) {
		return c.oneTapFailed(ctx, t, order, nil, ErrExpired, TaskDone)
	}
	saved, err := c.Details.SavedDetails(ctx, order.BuyerID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if saved.Method == nil || saved.Method.Provider != c.Provider.Name() || t.Provider != c.Provider.Name() {
		// Forgotten since the YES, or the provider changed.
		return c.oneTapFailed(ctx, t, order, nil, ErrNotFound, TaskDone)
	}
	out, err := c.Provider.ChargeSaved(ctx, PaymentRequest{
		OrderID: order.ID, Reference: order.Reference(), BuyerID: order.BuyerID, Amount: order.Total,
		Description: orderDescription(order), Email: order.Contact.Email, ExpiresAt: t.Deadline,
	}, *saved.Method)
	if err != nil {
		if finalChargeError(err) {
			return c.oneTapFailed(ctx, t, order, saved.Method, err, TaskDone)
		}
		return fmt.Errorf("charge saved method for %s: %w", order.Reference(), err)
	}
	if err := c.Apply(ctx, out); err != nil {
		return err
	}
	return c.finish(ctx, t, TaskDone, "")
}

// GiveUpTask ends a task whose temporary failures lasted too long (cause
// is the last one). A charge's buyer is told (OneTapFailure with
// ErrUnavailable) and can pay on the page while the hold lasts; a forget
// is logged for the operator to finish by hand.
func (c *Checkout) GiveUpTask(ctx context.Context, t ProviderTask, cause error) error {
	if t.Kind == TaskCharge {
		order, err := c.Orders.Order(ctx, t.OrderID)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return c.finish(ctx, t, TaskDead, "order not found")
			}
			return err
		}
		if order.Status != OrderPending {
			return c.finish(ctx, t, TaskDone, "order already "+string(order.Status))
		}
		c.Log.Error("one-tap charge given up; the buyer was sent the link", "order", order.Reference(), "attempts", t.Attempts+1, "err", cause)
		var method *SavedMethod
		if saved, err := c.Details.SavedDetails(ctx, order.BuyerID); err == nil {
			method = saved.Method
		}
		return c.oneTapFailed(ctx, t, order, method, fmt.Errorf("%w: %v", ErrUnavailable, cause), TaskDead)
	}
	c.Log.Error("provider task given up; finish it by hand", "task", t.Key, "kind", t.Kind, "buyer", t.BuyerID, "attempts", t.Attempts+1, "err", cause)
	now := c.Now().UTC()
	return c.Tasks.FinishTask(ctx, t.ID, TaskDead, now, cause.Error(), now)
}

// oneTapFailed tells the buyer and ends the task, in one transaction.
func (c *Checkout) oneTapFailed(ctx context.Context, t ProviderTask, o Order, m *SavedMethod, why error, st TaskStatus) error {
	return c.InTx(ctx, func(ctx context.Context) error {
		if err := c.Notify.OneTapFailed(ctx, t.Key, OneTapFailure{Order: o, Method: m, HoldEnds: t.Deadline, Err: why}); err != nil {
			return err
		}
		return c.finish(ctx, t, st, why.Error())
	})
}

// finalChargeError reports whether a ChargeSaved error is the provider's
// answer (retrying gives the same), not a failure to get one.
func finalChargeError(err error) bool {
	var fe FieldErrors
	return errors.Is(err, ErrAuthenticationRequired) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) ||
		errors.Is(err, ErrNotShippable) || errors.Is(err, ErrExpired) || errors.As(err, &fe)
}

// orderDescription names an order's lines for the provider's receipt.
func orderDescription(o Order) string {
	s := make([]string, len(o.Lines))
	for i, l := range o.Lines {
		s[i] = fmt.Sprintf("%d × %s", l.Quantity, l.Title)
		if l.Variant != "" {
			s[i] += " (" + l.Variant + ")"
		}
	}
	return strings.Join(s, ", ")
}
