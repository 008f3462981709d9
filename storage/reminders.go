package storage

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

var _ commerce.ReminderStore = (*Shop)(nil)

// DueCartReminders implements commerce.ReminderStore. Called in a
// transaction, it claims the carts it returns (SKIP LOCKED on PostgreSQL),
// so instances running the same schedule split the work.
func (s *Shop) DueCartReminders(ctx context.Context, step int, since, changedBefore time.Time, after commerce.ReminderCursor, limit int) ([]commerce.CartReminder, error) {
	var rows []struct {
		ID         int64
		MerchantID string
		BuyerID    string
		ScreenName string
		UpdatedAt  time.Time
	}
	if err := s.db.customPlans(ctx); err != nil {
		return nil, err
	}
	from, fromID := cursorBounds(since, after)
	err := s.db.write(ctx).Raw(`SELECT c.id, c.merchant_id, c.buyer_id, b.screen_name, c.updated_at FROM carts c
JOIN buyers b ON b.x_user_id = c.buyer_id
WHERE c.status = 'open' AND c.updated_at <= ? AND c.updated_at >= ? AND (c.updated_at > ? OR c.id > ?) AND b.reminders_off = 0
AND EXISTS (SELECT 1 FROM cart_items i WHERE i.cart_id = c.id)
AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.buyer_id = c.buyer_id AND o.merchant_id = c.merchant_id
	AND o.status IN ('paid', 'fulfilled') AND o.created_at >= c.updated_at)
AND NOT EXISTS (SELECT 1 FROM outbox_messages m WHERE m.msg_key = 'reminder:cart:' || c.id || ':' || ?)
AND NOT EXISTS (SELECT 1 FROM reminder_skips k WHERE k.skip_key = 'reminder:cart:' || c.id || ':' || ?)
AND (? = '0' OR EXISTS (SELECT 1 FROM outbox_messages p WHERE p.msg_key = 'reminder:cart:' || c.id || ':' || ?))
ORDER BY c.updated_at, c.id LIMIT ?`+s.db.forUpdateOf("c"), changedBefore, from, from, fromID, strconv.Itoa(step), strconv.Itoa(step), strconv.Itoa(step-1), strconv.Itoa(step-1), limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("due cart reminders: %w", err)
	}
	out := make([]commerce.CartReminder, len(rows))
	for i, r := range rows {
		out[i] = commerce.CartReminder{CartID: r.ID, MerchantID: r.MerchantID, Buyer: commerce.Buyer{XUserID: r.BuyerID, ScreenName: r.ScreenName},
			Cursor: commerce.ReminderCursor{At: r.UpdatedAt, ID: r.ID}}
	}
	return out, nil
}

// DueHoldReminders implements commerce.ReminderStore: one candidate per
// buyer and offer, counted from their first hold on it. A cart's holds are
// not reminded of: the cart was checked out (cart reminders stop then) and
// is paid only on its own page.
func (s *Shop) DueHoldReminders(ctx context.Context, step int, since, heldBefore time.Time, after commerce.ReminderCursor, limit int) ([]commerce.HoldReminder, error) {
	var rows []struct {
		ID         int64
		CreatedAt  time.Time
		MerchantID string
		OfferID    string
		BuyerID    string
		ScreenName string
		Latest     int64
	}
	// A buyer's first hold on an offer that crossed the threshold within
	// the lookback: their first hold starts the steps.
	if err := s.db.customPlans(ctx); err != nil {
		return nil, err
	}
	from, fromID := cursorBounds(since, after)
	err := s.db.write(ctx).Raw(`SELECT h.id, h.created_at, h.merchant_id, h.offer_id, h.buyer_id, b.screen_name,
	(SELECT MAX(l.id) FROM holds l WHERE l.merchant_id = h.merchant_id AND l.offer_id = h.offer_id AND l.buyer_id = h.buyer_id AND l.cart_id IS NULL) AS latest
FROM holds h JOIN buyers b ON b.x_user_id = h.buyer_id
WHERE h.created_at <= ? AND h.created_at >= ? AND (h.created_at > ? OR h.id > ?) AND b.reminders_off = 0 AND h.cart_id IS NULL
AND NOT EXISTS (SELECT 1 FROM holds e WHERE e.merchant_id = h.merchant_id AND e.offer_id = h.offer_id AND e.buyer_id = h.buyer_id AND e.id < h.id)
AND NOT EXISTS (SELECT 1 FROM orders o JOIN order_items i ON i.order_id = o.id
	WHERE o.buyer_id = h.buyer_id AND o.merchant_id = h.merchant_id AND i.offer_id = h.offer_id AND o.status IN ('paid', 'fulfilled', 'refunded'))
AND NOT EXISTS (SELECT 1 FROM outbox_messages m WHERE m.msg_key = 'reminder:hold:' || h.merchant_id || '/' || h.offer_id || '/' || h.buyer_id || ':' || ?)
AND NOT EXISTS (SELECT 1 FROM reminder_skips k WHERE k.skip_key = 'reminder:hold:' || h.merchant_id || '/' || h.offer_id || '/' || h.buyer_id || ':' || ?)
AND (? = '0' OR EXISTS (SELECT 1 FROM outbox_messages p WHERE p.msg_key = 'reminder:hold:' || h.merchant_id || '/' || h.offer_id || '/' || h.buyer_id || ':' || ?))
ORDER BY h.created_at, h.id LIMIT ?`+s.db.forUpdateOf("h"), heldBefore, from, from, fromID, strconv.Itoa(step), strconv.Itoa(step), strconv.Itoa(step-1), strconv.Itoa(step-1), limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("due hold reminders: %w", err)
	}
	out := make([]commerce.HoldReminder, len(rows))
	for i, r := range rows {
		out[i] = commerce.HoldReminder{MerchantID: r.MerchantID, OfferID: r.OfferID, Buyer: commerce.Buyer{XUserID: r.BuyerID, ScreenName: r.ScreenName}, LatestHold: r.Latest,
			Cursor: commerce.ReminderCursor{At: r.CreatedAt, ID: r.ID}}
	}
	return out, nil
}

// cursorBounds turns a step's window start and a cursor into the query's
// lower bounds: candidates at or after from, and past fromID when at from.
// The zero cursor gives every candidate after since.
func cursorBounds(since time.Time, after commerce.ReminderCursor) (time.Time, int64) {
	if after.ID == 0 || after.At.Before(since) {
		return since, math.MaxInt64
	}
	return after.At, after.ID
}

// SkipReminder records that a reminder step was decided against, so it is
// not looked at again.
func (s *Shop) SkipReminder(ctx context.Context, key string, now time.Time) error {
	return s.db.write(ctx).Exec(`INSERT INTO reminder_skips (skip_key, created_at) VALUES (?, ?) ON CONFLICT (skip_key) DO NOTHING`, key, now).Error
}
