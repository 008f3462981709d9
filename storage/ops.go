package storage

import (
	"context"
	"fmt"
	"time"
)

// OpsSnapshot is the state of the queues and of recovered carts, read for
// operators' gauges (hashcart's /metrics). Every instance sharing the
// database reads the same numbers.
type OpsSnapshot struct {
	// InboxPending counts stored events not yet handled (including failed
	// ones waiting for their retry).
	InboxPending int
	// InboxOldestPending is when the oldest of them was received; zero
	// when none is pending.
	InboxOldestPending time.Time
	// OutboxPending and OutboxSending count unsent messages: waiting, and
	// leased to a sender.
	OutboxPending, OutboxSending int
	// Recovered counts, by merchant, paid (or fulfilled) orders whose buyer
	// had been sent a reminder by that merchant before ordering.
	Recovered map[string]int
}

// OpsSnapshot reads the snapshot. The queue counts use the partial indexes
// on unsent rows; Recovered scans orders, so callers should not read it
// more often than every few seconds.
func (db *DB) OpsSnapshot(ctx context.Context) (OpsSnapshot, error) {
	var s OpsSnapshot
	r := db.read(ctx)
	var inbox struct {
		N      int
		Oldest *time.Time
	}
	if err := r.Raw(`SELECT COUNT(*) AS n FROM inbox_events WHERE status = 'pending'`).Scan(&inbox.N).Error; err != nil {
		return s, fmt.Errorf("count pending inbox: %w", err)
	}
	s.InboxPending = inbox.N
	if inbox.N > 0 {
		var rows []inboxRow
		if err := r.Raw(`SELECT * FROM inbox_events WHERE status = 'pending' ORDER BY id LIMIT 1`).Scan(&rows).Error; err != nil {
			return s, fmt.Errorf("oldest pending inbox: %w", err)
		}
		if len(rows) == 1 {
			s.InboxOldestPending = rows[0].ReceivedAt.UTC()
		}
	}
	var outbox []struct {
		Status string
		N      int
	}
	if err := r.Raw(`SELECT status, COUNT(*) AS n FROM outbox_messages WHERE status IN ('pending', 'sending') GROUP BY status`).Scan(&outbox).Error; err != nil {
		return s, fmt.Errorf("count unsent outbox: %w", err)
	}
	for _, o := range outbox {
		switch o.Status {
		case "pending":
			s.OutboxPending = o.N
		case "sending":
			s.OutboxSending = o.N
		}
	}
	var recovered []struct {
		MerchantID string
		N          int
	}
	if err := r.Raw(`SELECT o.merchant_id, COUNT(*) AS n FROM orders o
WHERE o.status IN ('paid', 'fulfilled') AND EXISTS (
	SELECT 1 FROM outbox_messages m
	WHERE m.merchant_id = o.merchant_id AND m.recipient_id = o.buyer_id AND m.status = 'sent'
	AND m.msg_key LIKE 'reminder:%' AND m.finished_at <= o.created_at)
GROUP BY o.merchant_id`).Scan(&recovered).Error; err != nil {
		return s, fmt.Errorf("count recovered carts: %w", err)
	}
	s.Recovered = make(map[string]int, len(recovered))
	for _, m := range recovered {
		s.Recovered[m.MerchantID] = m.N
	}
	return s, nil
}
