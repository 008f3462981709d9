package sandbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashcart/hashcart/commerce"
)

// ChargeSaved charges a method saved from an earlier sandbox payment while
// the buyer is away (a one-tap repeat buy). It succeeds, as a saved test
// card would: the sandbox keeps no card, only the reference of a method
// that already paid once. The charge and its event id derive from the
// order's reference, so charging one order twice (a retried DM) yields the
// same outcome, which is applied once.
func (p *Provider) ChargeSaved(ctx context.Context, r commerce.PaymentRequest, m commerce.SavedMethod) (commerce.PaymentOutcome, error) {
	if err := p.checkSecret(); err != nil {
		return commerce.PaymentOutcome{}, fmt.Errorf("sandbox charge: %w", err)
	}
	if m.Provider != "sandbox" || !strings.HasPrefix(m.MethodRef, methodPrefix) {
		return commerce.PaymentOutcome{}, fmt.Errorf("sandbox charge: method %q is not a sandbox method: %w", m.MethodRef, commerce.ErrInvalid)
	}
	if r.OrderID <= 0 || r.Reference == "" || r.Amount.Amount <= 0 {
		return commerce.PaymentOutcome{}, fmt.Errorf("sandbox charge: order, reference and a positive amount are required: %w", commerce.ErrInvalid)
	}
	charge := p.derivedRef(chargePrefix, "charge", r.Reference)
	method := m
	return commerce.PaymentOutcome{
		EventID:    p.derivedRef(eventPrefix, "event", charge),
		OrderID:    r.OrderID,
		Paid:       true,
		PaymentRef: charge,
		Method:     &method,
		Now:        p.Now(),
	}, nil
}
