package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// SetReminders implements commerce.BuyerStore.
func (s *Shop) SetReminders(ctx context.Context, b commerce.Buyer, on bool, now time.Time) error {
	return s.db.InTx(ctx, func(ctx context.Context) error {
		if err := s.upsertBuyer(ctx, b, now); err != nil {
			return err
		}
		off := 1
		if on {
			off = 0
		}
		return s.db.write(ctx).Exec(`UPDATE buyers SET reminders_off = ?, updated_at = ? WHERE x_user_id = ?`, off, now, b.XUserID).Error
	})
}

// RemindersOff reports whether the buyer said stop.
func (s *Shop) RemindersOff(ctx context.Context, buyerID string) (bool, error) {
	var off []int
	if err := s.db.read(ctx).Raw(`SELECT reminders_off FROM buyers WHERE x_user_id = ?`, buyerID).Scan(&off).Error; err != nil {
		return false, err
	}
	return len(off) == 1 && off[0] == 1, nil
}

// AskQuestion implements commerce.BuyerStore.
func (s *Shop) AskQuestion(ctx context.Context, b commerce.Buyer, question string, expires time.Time) error {
	return s.db.InTx(ctx, func(ctx context.Context) error {
		now := s.db.Now()
		if err := s.upsertBuyer(ctx, b, now); err != nil {
			return err
		}
		return s.db.write(ctx).Exec(`UPDATE buyers SET pending_question = ?, question_expires_at = ?, updated_at = ? WHERE x_user_id = ?`,
			question, expires.UTC(), now, b.XUserID).Error
	})
}

// TakeQuestion implements commerce.BuyerStore.
func (s *Shop) TakeQuestion(ctx context.Context, buyerID string, now time.Time) (string, error) {
	var q string
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		var rows []struct {
			PendingQuestion   string
			QuestionExpiresAt *time.Time
		}
		tx := s.db.write(ctx)
		if err := tx.Raw(`SELECT pending_question, question_expires_at FROM buyers WHERE x_user_id = ?`, buyerID).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 || rows[0].PendingQuestion == "" {
			return nil
		}
		if rows[0].QuestionExpiresAt != nil && rows[0].QuestionExpiresAt.After(now) {
			q = rows[0].PendingQuestion
		}
		return tx.Exec(`UPDATE buyers SET pending_question = '', question_expires_at = NULL WHERE x_user_id = ?`, buyerID).Error
	})
	if err != nil {
		return "", fmt.Errorf("take question: %w", err)
	}
	return q, nil
}

// Forget implements commerce.BuyerStore: the saved address, contact and
// payment method reference are deleted, and the handle and preferences
// cleared. Orders stay (the merchants' records of sale).
func (s *Shop) Forget(ctx context.Context, buyerID string, now time.Time) error {
	return s.db.InTx(ctx, func(ctx context.Context) error {
		if err := s.db.write(ctx).Exec(`DELETE FROM buyer_details WHERE buyer_id = ?`, buyerID).Error; err != nil {
			return err
		}
		return s.db.write(ctx).Exec(`UPDATE buyers SET screen_name = '', reminders_off = 0, pending_question = '', question_expires_at = NULL, updated_at = ? WHERE x_user_id = ?`,
			now, buyerID).Error
	})
}
