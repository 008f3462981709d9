package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

var _ commerce.WaitlistStore = (*Shop)(nil)

// JoinWaitlist implements commerce.WaitlistStore.
func (s *Shop) JoinWaitlist(ctx context.Context, o *commerce.Offer, e commerce.WaitlistEntry) (bool, error) {
	key := o.StockKey(e.Variant)
	added, err := s.db.exec(ctx, `INSERT INTO waitlist (merchant_id, offer_id, variant, stock_key, buyer_id, screen_name, quantity, reply_to, status, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'waiting', ?, ?) ON CONFLICT (merchant_id, offer_id, buyer_id) WHERE status = 'waiting' DO NOTHING`,
		e.MerchantID, e.OfferID, e.Variant, key, e.Buyer.XUserID, e.Buyer.ScreenName, e.Quantity, e.ReplyTo, e.CreatedAt, e.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("join waitlist: %w", err)
	}
	return added == 1, nil
}

// NextWaiting implements commerce.WaitlistStore.
func (s *Shop) NextWaiting(ctx context.Context, o *commerce.Offer, key string, limit int) ([]commerce.WaitlistEntry, error) {
	var rows []struct {
		ID         int64
		MerchantID string
		OfferID    string
		Variant    string
		BuyerID    string
		ScreenName string
		Quantity   int
		ReplyTo    string
		CreatedAt  time.Time
	}
	err := s.db.write(ctx).Raw(`SELECT id, merchant_id, offer_id, variant, buyer_id, screen_name, quantity, reply_to, created_at FROM waitlist
WHERE merchant_id = ? AND offer_id = ? AND stock_key = ? AND status = 'waiting' ORDER BY id LIMIT ?`+s.db.forUpdate(),
		o.MerchantID, o.ID, key, limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read waitlist: %w", err)
	}
	out := make([]commerce.WaitlistEntry, len(rows))
	for i, r := range rows {
		out[i] = commerce.WaitlistEntry{ID: r.ID, MerchantID: r.MerchantID, OfferID: r.OfferID, Variant: r.Variant, Quantity: r.Quantity,
			Buyer: commerce.Buyer{XUserID: r.BuyerID, ScreenName: r.ScreenName}, ReplyTo: r.ReplyTo, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// CloseEntry implements commerce.WaitlistStore.
func (s *Shop) CloseEntry(ctx context.Context, id, holdID int64, now time.Time) error {
	status := "dropped"
	var hold any
	if holdID > 0 {
		status, hold = "served", holdID
	}
	return s.db.write(ctx).Exec(`UPDATE waitlist SET status = ?, hold_id = ?, updated_at = ? WHERE id = ?`, status, hold, now, id).Error
}

// waiting reports whether buyers wait for units of the counter: new
// buyers then queue behind them rather than take freed units first.
func (s *Shop) waiting(ctx context.Context, o *commerce.Offer, key string) (bool, error) {
	var n int64
	err := s.db.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM waitlist WHERE merchant_id = ? AND offer_id = ? AND stock_key = ? AND status = 'waiting' LIMIT 1) w`,
		o.MerchantID, o.ID, key).Scan(&n)
	return n > 0, err
}
