package storage

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// RecordReply records a reply the bot matched to an offer, in the caller's
// transaction; the same event recorded again changes nothing.
func (s *Shop) RecordReply(ctx context.Context, r commerce.Reply) error {
	intent := map[commerce.Intent]string{commerce.IntentBuy: "buy", commerce.IntentCart: "cart"}[r.Intent] // "" before the tag was told apart
	_, err := s.db.exec(ctx, `INSERT INTO offer_replies (event_id, merchant_id, offer_id, buyer_id, intent, created_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
		r.EventID, r.MerchantID, r.OfferID, r.BuyerID, intent, r.At.UTC())
	if err != nil {
		return fmt.Errorf("record reply %s: %w", r.EventID, err)
	}
	return nil
}

// MarkLinkOpened records the first time the checkout page of a hold was
// opened; later opens change nothing (and do not write). ErrNotFound for
// an unknown hold.
func (s *Shop) MarkLinkOpened(ctx context.Context, holdID int64, now time.Time) error {
	var rows []struct{ LinkOpenedAt *time.Time }
	if err := s.db.read(ctx).Raw(`SELECT link_opened_at FROM holds WHERE id = ?`, holdID).Scan(&rows).Error; err != nil {
		return fmt.Errorf("read hold %d: %w", holdID, err)
	}
	if len(rows) == 0 {
		return commerce.ErrNotFound
	}
	if rows[0].LinkOpenedAt != nil {
		return nil
	}
	if err := s.db.write(ctx).Exec(`UPDATE holds SET link_opened_at = ? WHERE id = ? AND link_opened_at IS NULL`, now.UTC(), holdID).Error; err != nil {
		return fmt.Errorf("mark hold %d opened: %w", holdID, err)
	}
	return nil
}

// MerchantStock returns the stock counters of a merchant's offers, by
// offer and variant: the rows holds reserve from, as they are now.
func (s *Shop) MerchantStock(ctx context.Context, merchantID string) ([]commerce.StockLevel, error) {
	var rows []struct {
		OfferID string
		Variant string
		Total   *int
		Held    int
		Sold    int
	}
	if err := s.db.read(ctx).Raw(`SELECT offer_id, variant, total, held, sold FROM stock WHERE merchant_id = ? ORDER BY offer_id, variant`, merchantID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read stock of %s: %w", merchantID, err)
	}
	out := make([]commerce.StockLevel, len(rows))
	for i, r := range rows {
		out[i] = commerce.StockLevel{OfferID: r.OfferID, Variant: r.Variant, Total: r.Total, Held: r.Held, Sold: r.Sold}
	}
	return out, nil
}

// remindedSQL lists the reminder DMs a merchant sent since a time, one row
// per offer they were about: a hold reminder is about its hold's offer, a
// cart reminder about every offer in the cart. Parameters: merchant, since,
// merchant, since. The LIKE term is the partial index's condition, written
// the same so that both databases use it.
const remindedSQL = `SELECT m.id, m.recipient_id AS buyer_id, h.offer_id, m.finished_at AS sent_at
FROM outbox_messages m JOIN holds h ON h.id = m.link_target_id
WHERE m.merchant_id = ? AND m.msg_key LIKE 'reminder:%' AND m.created_at >= ? AND m.status = 'sent' AND m.link_kind = 'hold'
UNION ALL
SELECT m.id, m.recipient_id AS buyer_id, i.offer_id, m.finished_at AS sent_at
FROM outbox_messages m JOIN cart_items i ON i.cart_id = m.link_target_id
WHERE m.merchant_id = ? AND m.msg_key LIKE 'reminder:%' AND m.created_at >= ? AND m.status = 'sent' AND m.link_kind = 'cart'`

// Funnel counts, per offer of the merchant, what started since a time (see
// commerce.OfferFunnel for each stage). Offers with nothing to count are
// left out; the result is sorted by offer id. Every query reads one
// merchant's rows in the period through an index.
func (s *Shop) Funnel(ctx context.Context, merchantID string, since time.Time) ([]commerce.OfferFunnel, error) {
	since = since.UTC()
	db := s.db.read(ctx)
	byOffer := map[string]*commerce.OfferFunnel{}
	get := func(offer string) *commerce.OfferFunnel {
		f, ok := byOffer[offer]
		if !ok {
			f = &commerce.OfferFunnel{OfferID: offer}
			byOffer[offer] = f
		}
		return f
	}

	var replies []struct {
		OfferID string
		N       int
	}
	if err := db.Raw(`SELECT offer_id, COUNT(*) AS n FROM offer_replies
WHERE merchant_id = ? AND created_at >= ? GROUP BY offer_id`, merchantID, since).Scan(&replies).Error; err != nil {
		return nil, fmt.Errorf("funnel replies: %w", err)
	}
	for _, r := range replies {
		get(r.OfferID).Replies = r.N
	}

	var holds []struct {
		OfferID string
		Holds   int
		Opened  int
	}
	if err := db.Raw(`SELECT offer_id, COUNT(*) AS holds, COUNT(link_opened_at) AS opened FROM holds
WHERE merchant_id = ? AND created_at >= ? GROUP BY offer_id`, merchantID, since).Scan(&holds).Error; err != nil {
		return nil, fmt.Errorf("funnel holds: %w", err)
	}
	for _, r := range holds {
		f := get(r.OfferID)
		f.Holds, f.LinksOpened = r.Holds, r.Opened
	}

	var paid []struct {
		OfferID string
		N       int
	}
	if err := db.Raw(`SELECT i.offer_id, COUNT(DISTINCT o.id) AS n FROM orders o JOIN order_items i ON i.order_id = o.id
WHERE o.merchant_id = ? AND o.created_at >= ? AND o.status IN ('paid', 'fulfilled') GROUP BY i.offer_id`, merchantID, since).Scan(&paid).Error; err != nil {
		return nil, fmt.Errorf("funnel paid: %w", err)
	}
	for _, r := range paid {
		get(r.OfferID).Paid = r.N
	}

	// Recovered: a reminded buyer with a paid order for the offer after
	// their first reminder about it.
	var reminded []struct {
		OfferID   string
		Reminders int
		Recovered int
	}
	if err := db.Raw(`WITH reminded AS (`+remindedSQL+`),
per_buyer AS (SELECT offer_id, buyer_id, COUNT(DISTINCT id) AS n, MIN(sent_at) AS first_sent FROM reminded GROUP BY offer_id, buyer_id)
SELECT p.offer_id, SUM(p.n) AS reminders,
	SUM(CASE WHEN EXISTS (SELECT 1 FROM orders o JOIN order_items i ON i.order_id = o.id
		WHERE o.buyer_id = p.buyer_id AND o.merchant_id = ? AND i.offer_id = p.offer_id
		AND o.status IN ('paid', 'fulfilled') AND o.paid_at > p.first_sent) THEN 1 ELSE 0 END) AS recovered
FROM per_buyer p GROUP BY p.offer_id`, merchantID, since, merchantID, since, merchantID).Scan(&reminded).Error; err != nil {
		return nil, fmt.Errorf("funnel reminders: %w", err)
	}
	for _, r := range reminded {
		f := get(r.OfferID)
		f.Reminders, f.Recovered = r.Reminders, r.Recovered
	}

	out := make([]commerce.OfferFunnel, 0, len(byOffer))
	for _, f := range byOffer {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OfferID < out[j].OfferID })
	return out, nil
}

// LatestMerchantOrders returns a merchant's newest orders, newest first, at
// most limit, with their addresses (the merchant's own orders only).
func (s *Orders) LatestMerchantOrders(ctx context.Context, merchantID string, limit int) ([]commerce.Order, error) {
	var rows []orderRow
	if err := s.db.read(ctx).Raw(`SELECT * FROM orders WHERE merchant_id = ? ORDER BY id DESC LIMIT ?`, merchantID, limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read merchant orders: %w", err)
	}
	return s.loadAll(ctx, rows)
}

// ScreenNames returns the X screen names known for buyers, by user id;
// buyers never seen are left out.
func (s *Shop) ScreenNames(ctx context.Context, buyerIDs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(buyerIDs) == 0 {
		return out, nil
	}
	var rows []struct{ XUserID, ScreenName string }
	if err := s.db.read(ctx).Raw(`SELECT x_user_id, screen_name FROM buyers WHERE x_user_id IN ?`, buyerIDs).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read screen names: %w", err)
	}
	for _, r := range rows {
		if r.ScreenName != "" {
			out[r.XUserID] = r.ScreenName
		}
	}
	return out, nil
}
