package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

var _ commerce.HandoffStore = (*Orders)(nil)

// EnqueueDelivery queues the order's hand-off in ctx's transaction, once
// per delivery id.
func (s *Orders) EnqueueDelivery(ctx context.Context, deliveryID, merchantID string, orderID int64, now time.Time) error {
	return s.db.write(ctx).Exec(`INSERT INTO merchant_deliveries (delivery_id, merchant_id, order_id, status, next_attempt_at, created_at)
VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT (delivery_id) DO NOTHING`, deliveryID, merchantID, orderID, now, now).Error
}

// ClaimDeliveries leases up to limit due deliveries until now+lease: no
// other instance takes them meanwhile; a crashed sender's lease runs out
// and the delivery is claimed again (merchants dedupe by delivery id).
func (s *Orders) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]commerce.Delivery, error) {
	var out []commerce.Delivery
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		tx := s.db.write(ctx)
		var rows []commerce.Delivery
		if err := tx.Raw(`SELECT id, delivery_id, merchant_id, order_id, attempts, created_at FROM merchant_deliveries
WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
ORDER BY next_attempt_at, id LIMIT ?`+s.db.forUpdate(), now, now, limit).Scan(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			if err := tx.Exec(`UPDATE merchant_deliveries SET lease_until = ? WHERE id = ?`, now.Add(lease), r.ID).Error; err != nil {
				return err
			}
		}
		out = rows
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// ReleaseDeliveries implements commerce.HandoffStore: the deliveries'
// leases end now, attempts unchanged.
func (s *Orders) ReleaseDeliveries(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.db.write(ctx).Exec(`UPDATE merchant_deliveries SET lease_until = NULL WHERE id IN ? AND status = 'pending'`, ids).Error; err != nil {
		return fmt.Errorf("release %d deliveries: %w", len(ids), err)
	}
	return nil
}

// FinishDelivery records an attempt: delivered, to retry at next, or
// given up (dead).
func (s *Orders) FinishDelivery(ctx context.Context, id int64, delivered, dead bool, next time.Time, lastError string, now time.Time) error {
	status := "pending"
	switch {
	case delivered:
		status = "delivered"
	case dead:
		status = "dead"
	}
	var deliveredAt any
	if delivered {
		deliveredAt = now
	}
	if len(lastError) > 500 {
		lastError = lastError[:500]
	}
	return s.db.write(ctx).Exec(`UPDATE merchant_deliveries SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?, lease_until = NULL, delivered_at = ? WHERE id = ?`,
		status, lastError, next, deliveredAt, id).Error
}
