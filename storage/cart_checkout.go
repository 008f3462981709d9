package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"gorm.io/gorm"
)

// errCartProblems rolls back a cart checkout that found lines it cannot
// hold; the caller gets the *commerce.CartCheckoutError instead.
var errCartProblems = errors.New("cart lines cannot be held")

// CheckOutCart implements commerce.CartStore. The cart row is claimed
// first (open → checked_out), so two checkouts of one cart, from any
// instance, make one set of holds; each line is then reserved exactly as
// Reserve does (no oversell, per-customer limit, waiting buyers first).
func (s *Shop) CheckOutCart(ctx context.Context, c commerce.CartCheckout) ([]commerce.Hold, error) {
	var problems []commerce.CartProblem
	var out []commerce.Hold
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		tx := s.db.write(ctx)
		if err := s.upsertBuyer(ctx, c.Buyer, c.Now); err != nil {
			return err
		}
		res := tx.Exec(`UPDATE carts SET status = 'checked_out', updated_at = ? WHERE id = ? AND buyer_id = ? AND status = 'open'`,
			c.Now, c.CartID, c.Buyer.XUserID)
		if res.Error != nil {
			return fmt.Errorf("claim cart: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			var status []string
			if err := tx.Raw(`SELECT status FROM carts WHERE id = ? AND buyer_id = ?`, c.CartID, c.Buyer.XUserID).Scan(&status).Error; err != nil {
				return err
			}
			if len(status) == 1 && status[0] == string(commerce.CartCheckedOut) {
				var err error
				out, err = s.CartHolds(ctx, c.CartID)
				return err
			}
			return commerce.ErrNotFound
		}
		var lines []cartItemRow
		if err := tx.Raw(`SELECT * FROM cart_items WHERE cart_id = ? ORDER BY id`, c.CartID).Scan(&lines).Error; err != nil {
			return err
		}
		cartID := c.CartID
		for _, l := range lines {
			line := commerce.CartLine{OfferID: l.OfferID, Title: l.Title, Variant: l.Variant, Quantity: l.Quantity,
				UnitPrice: commerce.Money{Amount: l.UnitAmount, Currency: l.Currency}}
			if c.Skip[line.Key()] {
				continue
			}
			o, err := c.Check(line)
			if err == nil {
				var row holdRow
				row, err = s.reserveUnits(ctx, commerce.Reservation{Offer: o, Variant: l.Variant, Quantity: l.Quantity, Buyer: c.Buyer,
					Now: c.Now, ExpiresAt: c.ExpiresAt}, &cartID)
				if err == nil {
					out = append(out, row.hold())
					continue
				}
			}
			var le *commerce.LimitError
			if !errors.As(err, &le) && !errors.Is(err, commerce.ErrSoldOut) && !errors.Is(err, commerce.ErrEnded) &&
				!errors.Is(err, commerce.ErrNotOnSale) && !errors.Is(err, commerce.ErrVariantRequired) && !errors.Is(err, commerce.ErrQuantityTooLarge) {
				return fmt.Errorf("hold %s: %w", l.OfferID, err)
			}
			problems = append(problems, commerce.CartProblem{Line: line, Err: err})
		}
		if len(problems) > 0 {
			return errCartProblems
		}
		if len(out) == 0 {
			return fmt.Errorf("nothing left to check out: %w", commerce.ErrInvalid)
		}
		return nil
	})
	if errors.Is(err, errCartProblems) {
		return nil, &commerce.CartCheckoutError{Problems: problems}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CartHolds implements commerce.CartStore.
func (s *Shop) CartHolds(ctx context.Context, cartID int64) ([]commerce.Hold, error) {
	var rows []holdRow
	if err := s.db.read(ctx).Raw(`SELECT * FROM holds WHERE cart_id = ? ORDER BY id`, cartID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read holds of cart %d: %w", cartID, err)
	}
	out := make([]commerce.Hold, len(rows))
	for i, r := range rows {
		out[i] = r.hold()
	}
	return out, nil
}

// SetCartLine implements commerce.CartStore.
func (s *Shop) SetCartLine(ctx context.Context, cartID int64, offerID, variant string, qty int, now time.Time) (commerce.Cart, error) {
	var cart commerce.Cart
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		tx := s.db.write(ctx)
		var status []string
		if err := tx.Raw(`SELECT status FROM carts WHERE id = ?`+s.db.forUpdateWait(), cartID).Scan(&status).Error; err != nil {
			return err
		}
		switch {
		case len(status) == 0:
			return commerce.ErrNotFound
		case status[0] != string(commerce.CartOpen):
			return commerce.ErrUsed
		}
		var res *gorm.DB
		if qty > 0 {
			res = tx.Exec(`UPDATE cart_items SET quantity = ?, updated_at = ? WHERE cart_id = ? AND offer_id = ? AND variant = ?`, qty, now, cartID, offerID, variant)
		} else {
			res = tx.Exec(`DELETE FROM cart_items WHERE cart_id = ? AND offer_id = ? AND variant = ?`, cartID, offerID, variant)
		}
		if res.Error != nil {
			return fmt.Errorf("change cart line: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return commerce.ErrNotFound
		}
		if err := tx.Exec(`UPDATE carts SET updated_at = ? WHERE id = ?`, now, cartID).Error; err != nil {
			return err
		}
		var err error
		cart, err = s.cart(ctx, cartID)
		return err
	})
	if err != nil {
		return commerce.Cart{}, fmt.Errorf("cart %d line %s: %w", cartID, offerID, err)
	}
	return cart, nil
}
