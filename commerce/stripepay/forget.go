package stripepay

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashcart/hashcart/commerce"
	"github.com/stripe/stripe-go/v85"
)

// ForgetBuyer deletes the buyer's Stripe Customer, which detaches every
// payment method saved on it, and forgets its reference. A buyer with no
// Customer, or one Stripe no longer has, is already forgotten.
func (p *Provider) ForgetBuyer(ctx context.Context, buyerID string) error {
	ref, err := p.Customers.CustomerRef(ctx, buyerID)
	if errors.Is(err, commerce.ErrNotFound) || (err == nil && ref == "") {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := p.Client.V1Customers.Delete(ctx, ref, nil); err != nil {
		var se *stripe.Error
		if !errors.As(err, &se) || se.Code != stripe.ErrorCodeResourceMissing {
			return fmt.Errorf("delete stripe customer: %w", err)
		}
	}
	return p.Customers.SetCustomerRef(ctx, buyerID, "")
}
