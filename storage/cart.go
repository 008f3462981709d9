package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

type cartItemRow struct {
	ID         int64
	CartID     int64
	OfferID    string
	Variant    string
	Title      string
	Quantity   int
	UnitAmount int64
	Currency   string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (cartItemRow) TableName() string { return "cart_items" }

// AddToCart implements commerce.CartStore.
func (s *Shop) AddToCart(ctx context.Context, a commerce.CartAdd) (commerce.Cart, error) {
	var cart commerce.Cart
	o := a.Offer
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		tx := s.db.write(ctx)
		if err := s.upsertBuyer(ctx, a.Buyer, a.Now); err != nil {
			return err
		}
		id, err := s.openCartID(ctx, o.MerchantID, a.Buyer.XUserID)
		if err != nil {
			return err
		}
		if id == 0 {
			res := tx.Exec(`INSERT INTO carts (merchant_id, buyer_id, status, created_at, updated_at) VALUES (?, ?, 'open', ?, ?)`,
				o.MerchantID, a.Buyer.XUserID, a.Now, a.Now)
			if res.Error != nil {
				return fmt.Errorf("open cart: %w", res.Error)
			}
			if id, err = s.openCartID(ctx, o.MerchantID, a.Buyer.XUserID); err != nil {
				return err
			}
		}
		var lines []cartItemRow
		if err := tx.Raw(`SELECT * FROM cart_items WHERE cart_id = ? AND offer_id = ? AND variant = ?`, id, o.ID, a.Variant).Scan(&lines).Error; err != nil {
			return err
		}
		have := 0
		if len(lines) > 0 {
			have = lines[0].Quantity
		}
		if o.PerCustomerLimit > 0 && have+a.Quantity > o.PerCustomerLimit {
			return &commerce.LimitError{Limit: o.PerCustomerLimit, Remaining: max(0, o.PerCustomerLimit-have)}
		}
		if len(lines) > 0 {
			err = tx.Exec(`UPDATE cart_items SET quantity = quantity + ?, unit_amount = ?, updated_at = ? WHERE id = ?`,
				a.Quantity, o.Price.Amount, a.Now, lines[0].ID).Error
		} else {
			err = tx.Exec(`INSERT INTO cart_items (cart_id, offer_id, variant, title, quantity, unit_amount, currency, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				id, o.ID, a.Variant, o.Title, a.Quantity, o.Price.Amount, o.Price.Currency, a.Now, a.Now).Error
		}
		if err != nil {
			return fmt.Errorf("cart line: %w", err)
		}
		if err := tx.Exec(`UPDATE carts SET updated_at = ? WHERE id = ?`, a.Now, id).Error; err != nil {
			return err
		}
		cart, err = s.cart(ctx, id)
		return err
	})
	return cart, err
}

// openCartID finds the buyer's open cart and locks it until the
// transaction ends (PostgreSQL), so nothing is added to a cart being
// checked out: once CheckOutCart commits, the cart is no longer open here.
func (s *Shop) openCartID(ctx context.Context, merchantID, buyerID string) (int64, error) {
	var ids []int64
	if err := s.db.write(ctx).Raw(`SELECT id FROM carts WHERE merchant_id = ? AND buyer_id = ? AND status = 'open'`+s.db.forUpdateWait(), merchantID, buyerID).Scan(&ids).Error; err != nil {
		return 0, fmt.Errorf("find open cart: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[0], nil
}

func (s *Shop) cart(ctx context.Context, id int64) (commerce.Cart, error) {
	var head []struct {
		ID         int64
		MerchantID string
		BuyerID    string
		Status     string
		UpdatedAt  time.Time
	}
	db := s.db.read(ctx)
	if err := db.Raw(`SELECT id, merchant_id, buyer_id, status, updated_at FROM carts WHERE id = ?`, id).Scan(&head).Error; err != nil {
		return commerce.Cart{}, err
	}
	if len(head) == 0 {
		return commerce.Cart{}, commerce.ErrNotFound
	}
	var lines []cartItemRow
	if err := db.Raw(`SELECT * FROM cart_items WHERE cart_id = ? ORDER BY id`, id).Scan(&lines).Error; err != nil {
		return commerce.Cart{}, err
	}
	c := commerce.Cart{ID: head[0].ID, MerchantID: head[0].MerchantID, BuyerID: head[0].BuyerID, Status: commerce.CartStatus(head[0].Status), UpdatedAt: head[0].UpdatedAt}
	for _, l := range lines {
		c.Lines = append(c.Lines, commerce.CartLine{OfferID: l.OfferID, Title: l.Title, Variant: l.Variant, Quantity: l.Quantity,
			UnitPrice: commerce.Money{Amount: l.UnitAmount, Currency: l.Currency}})
	}
	return c, nil
}

// OpenCart implements commerce.CartStore.
func (s *Shop) OpenCart(ctx context.Context, merchantID, buyerID string) (commerce.Cart, error) {
	var ids []int64
	if err := s.db.read(ctx).Raw(`SELECT id FROM carts WHERE merchant_id = ? AND buyer_id = ? AND status = 'open'`, merchantID, buyerID).Scan(&ids).Error; err != nil {
		return commerce.Cart{}, fmt.Errorf("find open cart: %w", err)
	}
	if len(ids) == 0 {
		return commerce.Cart{}, commerce.ErrNotFound
	}
	return s.cart(ctx, ids[0])
}

// Cart returns a cart by id, or commerce.ErrNotFound.
func (s *Shop) Cart(ctx context.Context, id int64) (commerce.Cart, error) {
	return s.cart(ctx, id)
}

// EmptyCart removes every item of the buyer's open cart with the merchant
// and closes it; it reports whether there was anything to remove.
func (s *Shop) EmptyCart(ctx context.Context, merchantID, buyerID string, now time.Time) (bool, error) {
	emptied := false
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		id, err := s.openCartID(ctx, merchantID, buyerID)
		if err != nil || id == 0 {
			return err
		}
		res := s.db.write(ctx).Exec(`DELETE FROM cart_items WHERE cart_id = ?`, id)
		if res.Error != nil {
			return res.Error
		}
		emptied = res.RowsAffected > 0
		return s.db.write(ctx).Exec(`UPDATE carts SET status = 'emptied', updated_at = ? WHERE id = ?`, now, id).Error
	})
	if err != nil {
		return false, fmt.Errorf("empty cart: %w", err)
	}
	return emptied, nil
}
