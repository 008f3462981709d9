package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// Customers keeps buyers' customer references at one payment provider.
type Customers struct {
	db       *DB
	provider string
}

// Customers returns the customer store of a provider ("stripe").
func (db *DB) Customers(provider string) *Customers { return &Customers{db: db, provider: provider} }

// CustomerRef returns the buyer's customer reference, or "" when none.
func (s *Customers) CustomerRef(ctx context.Context, buyerID string) (string, error) {
	var refs []string
	if err := s.db.read(ctx).Raw(`SELECT customer_ref FROM provider_customers WHERE provider = ? AND buyer_id = ?`, s.provider, buyerID).Scan(&refs).Error; err != nil {
		return "", fmt.Errorf("read customer: %w", err)
	}
	if len(refs) == 0 {
		return "", nil
	}
	return refs[0], nil
}

// SetCustomerRef records the buyer's customer reference.
func (s *Customers) SetCustomerRef(ctx context.Context, buyerID, ref string) error {
	return s.db.write(ctx).Exec(`INSERT INTO provider_customers (provider, buyer_id, customer_ref, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (provider, buyer_id) DO UPDATE SET customer_ref = excluded.customer_ref`, s.provider, buyerID, ref, s.db.Now()).Error
}

// CancelPendingOrder cancels an order whose payment will not come (the
// provider's session expired) and returns its hold's units to stock (every
// hold's, for a cart's order). A paid or closed order is left alone.
func (s *Orders) CancelPendingOrder(ctx context.Context, orderID int64, now time.Time) error {
	return s.db.InTx(ctx, func(ctx context.Context) error {
		o, err := s.Order(ctx, orderID)
		if errors.Is(err, commerce.ErrNotFound) {
			return nil
		}
		if err != nil || o.Status != commerce.OrderPending {
			return err
		}
		if _, err := s.SetOrderStatus(ctx, orderID, commerce.OrderCancelled, "payment session expired", now); err != nil {
			return err
		}
		var holds []holdRow
		if err := s.db.write(ctx).Raw(`SELECT * FROM holds WHERE (id = ? OR id IN (SELECT hold_id FROM order_holds WHERE order_id = ?)) AND status = 'active'`+s.db.forUpdateWait(), o.HoldID, o.ID).Scan(&holds).Error; err != nil {
			return err
		}
		for _, h := range holds {
			if err := s.db.write(ctx).Exec(`UPDATE holds SET status = 'released', updated_at = ? WHERE id = ? AND status = 'active'`, now, h.ID).Error; err != nil {
				return err
			}
			if err := s.db.write(ctx).Exec(`UPDATE stock SET held = held - ? WHERE merchant_id = ? AND offer_id = ? AND variant = ? AND total IS NOT NULL`,
				h.Quantity, h.MerchantID, h.OfferID, h.StockKey).Error; err != nil {
				return err
			}
		}
		return nil
	})
}
