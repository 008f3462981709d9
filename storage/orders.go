package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// Orders implements commerce.OrderStore and commerce.DetailsStore.
type Orders struct{ db *DB }

// Orders returns the order store.
func (db *DB) Orders() *Orders { return &Orders{db: db} }

var (
	_ commerce.OrderStore   = (*Orders)(nil)
	_ commerce.DetailsStore = (*Orders)(nil)
)

// ErrNoSealer is returned when personal data would be stored without a key.
var ErrNoSealer = errors.New("no data key: personal data cannot be stored (set HASHCART_DATA_KEY)")

func (s *Orders) seal(v any, aad string) (string, error) {
	if s.db.sealer == nil {
		return "", ErrNoSealer
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return s.db.sealer.Seal(b, aad)
}

func (s *Orders) open(sealed, aad string, v any) error {
	if sealed == "" {
		return nil
	}
	if s.db.sealer == nil {
		return ErrNoSealer
	}
	b, err := s.db.sealer.Open(sealed, aad)
	if err != nil {
		return fmt.Errorf("open %s: %w", aad, err)
	}
	return json.Unmarshal(b, v)
}

func orderAAD(id int64, field string) string {
	return "order:" + strconv.FormatInt(id, 10) + ":" + field
}
func buyerAAD(id, field string) string { return "buyer:" + id + ":" + field }

type orderRow struct {
	ID             int64
	MerchantID     string
	BuyerID        string
	HoldID         int64
	Status         string
	TotalAmount    int64
	Currency       string
	ShippingSealed string
	ContactSealed  string
	Provider       string
	PaymentRef     string
	MethodBrand    string
	MethodLast4    string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	PaidAt         *time.Time
}

func (orderRow) TableName() string { return "orders" }

func (s *Orders) event(ctx context.Context, orderID int64, status commerce.OrderStatus, note string, at time.Time) error {
	return s.db.write(ctx).Exec(`INSERT INTO order_events (order_id, at, status, note) VALUES (?, ?, ?, ?)`, orderID, at, string(status), note).Error
}

// PlaceOrder implements commerce.OrderStore.
func (s *Orders) PlaceOrder(ctx context.Context, p commerce.PlaceOrder) (commerce.Order, error) {
	var id int64
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		tx := s.db.write(ctx)
		var existing []orderRow
		if err := tx.Raw(`SELECT * FROM orders WHERE hold_id = ?`, p.Hold.ID).Scan(&existing).Error; err != nil {
			return err
		}
		if len(existing) > 0 {
			id = existing[0].ID
			if commerce.OrderStatus(existing[0].Status) != commerce.OrderPending {
				return nil // already paid or closed: the caller shows it
			}
		} else {
			h := p.Hold
			items := p.Items
			if len(items) == 0 {
				items = []commerce.OrderHold{{Hold: h, Title: p.Title}}
			}
			total := commerce.Money{Currency: h.UnitPrice.Currency}
			for _, it := range items {
				total.Amount += it.Hold.Total().Amount
			}
			row := orderRow{MerchantID: h.MerchantID, BuyerID: h.BuyerID, HoldID: h.ID, Status: string(commerce.OrderPending),
				TotalAmount: total.Amount, Currency: total.Currency, Provider: p.Provider, CreatedAt: p.Now, UpdatedAt: p.Now}
			if err := tx.Create(&row).Error; err != nil {
				return fmt.Errorf("insert order: %w", err)
			}
			id = row.ID
			for _, it := range items {
				h := it.Hold
				if err := tx.Exec(`INSERT INTO order_items (order_id, offer_id, title, variant, quantity, unit_amount, currency) VALUES (?, ?, ?, ?, ?, ?, ?)`,
					id, h.OfferID, it.Title, h.Variant, h.Quantity, h.UnitPrice.Amount, h.UnitPrice.Currency).Error; err != nil {
					return err
				}
				if len(p.Items) > 0 {
					// The primary key on hold_id keeps a hold in one order.
					if err := tx.Exec(`INSERT INTO order_holds (hold_id, order_id) VALUES (?, ?)`, h.ID, id).Error; err != nil {
						return fmt.Errorf("link hold %d: %w", h.ID, err)
					}
				}
			}
			if err := s.event(ctx, id, commerce.OrderPending, "details given", p.Now); err != nil {
				return err
			}
		}
		if !p.HoldUntil.IsZero() {
			ids := []int64{p.Hold.ID}
			for _, it := range p.Items {
				ids = append(ids, it.Hold.ID)
			}
			until := p.HoldUntil.UTC()
			if err := tx.Exec(`UPDATE holds SET expires_at = ?, updated_at = ? WHERE id IN ? AND status = 'active' AND expires_at < ?`,
				until, p.Now, ids, until).Error; err != nil {
				return fmt.Errorf("extend holds: %w", err)
			}
		}
		ship, err := s.seal(p.Shipping, orderAAD(id, "shipping"))
		if err != nil {
			return err
		}
		contact, err := s.seal(p.Contact, orderAAD(id, "contact"))
		if err != nil {
			return err
		}
		return tx.Exec(`UPDATE orders SET shipping_sealed = ?, contact_sealed = ?, provider = ?, updated_at = ? WHERE id = ? AND status = 'pending'`,
			ship, contact, p.Provider, p.Now, id).Error
	})
	if err != nil {
		return commerce.Order{}, fmt.Errorf("place order for hold %d: %w", p.Hold.ID, err)
	}
	return s.Order(ctx, id)
}

// ApplyPayment implements commerce.OrderStore. The order turning paid, the
// hold converting and its units moving from held to sold are one
// transaction; a report seen before changes nothing.
func (s *Orders) ApplyPayment(ctx context.Context, o commerce.PaymentOutcome) (commerce.PaymentResult, error) {
	var res commerce.PaymentResult
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		tx := s.db.write(ctx)
		paid := 0
		if o.Paid {
			paid = 1
		}
		ins := tx.Exec(`INSERT INTO payment_events (event_id, order_id, paid, received_at) VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
			o.EventID, o.OrderID, paid, o.Now)
		if ins.Error != nil {
			return ins.Error
		}
		var rows []orderRow
		if err := tx.Raw(`SELECT * FROM orders WHERE id = ?`+s.db.forUpdateWait(), o.OrderID).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("order %d: %w", o.OrderID, commerce.ErrNotFound)
		}
		row := rows[0]
		if ins.RowsAffected == 0 {
			res.Duplicate = true
			return nil
		}
		status := commerce.OrderStatus(row.Status)
		if !o.Paid {
			return s.event(ctx, row.ID, status, "payment failed: "+o.Reason, o.Now)
		}
		if status != commerce.OrderPending {
			// Paid twice (two sessions for one order): keep the first, and
			// say so in the timeline; the second payment is refunded.
			res.NeedsRefund = true
			return s.event(ctx, row.ID, status, "a second payment "+o.PaymentRef+" arrived and is refunded", o.Now)
		}
		sold, err := s.sellHolds(ctx, row, o.Now)
		if err != nil {
			return err
		}
		to, note := commerce.OrderPaid, "paid"
		if o.PaymentRef == "" {
			note = "claimed"
		}
		if !sold {
			to, note = commerce.OrderRefunded, "paid after the hold expired and the stock was gone: refunded"
			res.NeedsRefund = true
		}
		brand, last4 := "", ""
		if o.Method != nil {
			brand, last4 = o.Method.Brand, o.Method.Last4
		}
		if err := tx.Exec(`UPDATE orders SET status = ?, payment_ref = ?, method_brand = ?, method_last4 = ?, paid_at = ?, updated_at = ? WHERE id = ?`,
			string(to), o.PaymentRef, brand, last4, o.Now, o.Now, row.ID).Error; err != nil {
			return err
		}
		if err := s.event(ctx, row.ID, commerce.OrderPaid, "payment received", o.Now); err != nil {
			return err
		}
		if to == commerce.OrderRefunded {
			if err := s.event(ctx, row.ID, to, note, o.Now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return commerce.PaymentResult{}, fmt.Errorf("apply payment %s: %w", o.EventID, err)
	}
	order, err := s.Order(ctx, o.OrderID)
	res.Order = order
	return res, err
}

// sellHolds converts the order's holds: its one hold, or every hold of a
// cart's order. The holds of one order are sold together or not at all:
// when one cannot be sold (it expired and its units are gone), the others
// are not sold either and those still active are released, so the order
// is refunded whole and its units go back on sale.
func (s *Orders) sellHolds(ctx context.Context, row orderRow, now time.Time) (bool, error) {
	tx := s.db.write(ctx)
	var ids []int64
	if err := tx.Raw(`SELECT hold_id FROM order_holds WHERE order_id = ? ORDER BY hold_id`, row.ID).Scan(&ids).Error; err != nil {
		return false, fmt.Errorf("read holds of order %d: %w", row.ID, err)
	}
	if len(ids) == 0 {
		return s.convertHold(ctx, row.HoldID, now)
	}
	if err := tx.SavePoint("sell_holds").Error; err != nil {
		return false, err
	}
	for _, id := range ids {
		sold, err := s.convertHold(ctx, id, now)
		if err != nil {
			return false, err
		}
		if sold {
			continue
		}
		if err := tx.RollbackTo("sell_holds").Error; err != nil {
			return false, err
		}
		for _, id := range ids {
			if err := s.releaseHold(ctx, id, now); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	return true, nil
}

// releaseHold gives an active hold's units back to stock.
func (s *Orders) releaseHold(ctx context.Context, holdID int64, now time.Time) error {
	tx := s.db.write(ctx)
	var holds []holdRow
	if err := tx.Raw(`SELECT * FROM holds WHERE id = ? AND status = 'active'`+s.db.forUpdateWait(), holdID).Scan(&holds).Error; err != nil || len(holds) == 0 {
		return err
	}
	h := holds[0]
	if err := tx.Exec(`UPDATE holds SET status = 'released', updated_at = ? WHERE id = ?`, now, h.ID).Error; err != nil {
		return err
	}
	return tx.Exec(`UPDATE stock SET held = held - ? WHERE merchant_id = ? AND offer_id = ? AND variant = ? AND total IS NOT NULL`,
		h.Quantity, h.MerchantID, h.OfferID, h.StockKey).Error
}

// convertHold turns a hold into a sale: held units become sold. A hold that
// expired (its units returned) is sold only if units are still free.
func (s *Orders) convertHold(ctx context.Context, holdID int64, now time.Time) (bool, error) {
	tx := s.db.write(ctx)
	var holds []holdRow
	if err := tx.Raw(`SELECT * FROM holds WHERE id = ?`+s.db.forUpdateWait(), holdID).Scan(&holds).Error; err != nil {
		return false, err
	}
	if len(holds) == 0 {
		return false, fmt.Errorf("hold %d: %w", holdID, commerce.ErrNotFound)
	}
	h := holds[0]
	switch commerce.HoldStatus(h.Status) {
	case commerce.HoldConverted:
		return true, nil
	case commerce.HoldActive:
		if err := tx.Exec(`UPDATE stock SET held = held - ?, sold = sold + ? WHERE merchant_id = ? AND offer_id = ? AND variant = ? AND total IS NOT NULL`,
			h.Quantity, h.Quantity, h.MerchantID, h.OfferID, h.StockKey).Error; err != nil {
			return false, err
		}
	default: // expired or released: the units went back to stock
		res := tx.Exec(`UPDATE stock SET sold = sold + ? WHERE merchant_id = ? AND offer_id = ? AND variant = ? AND total IS NOT NULL AND total - held - sold >= ?`,
			h.Quantity, h.MerchantID, h.OfferID, h.StockKey, h.Quantity)
		if res.Error != nil {
			return false, res.Error
		}
		if res.RowsAffected == 0 {
			var unlimited int64
			if err := tx.Raw(`SELECT COUNT(*) FROM stock WHERE merchant_id = ? AND offer_id = ? AND variant = ? AND total IS NULL`,
				h.MerchantID, h.OfferID, h.StockKey).Scan(&unlimited).Error; err != nil {
				return false, err
			}
			if unlimited == 0 {
				return false, nil
			}
		}
	}
	return true, tx.Exec(`UPDATE holds SET status = 'converted', updated_at = ? WHERE id = ?`, now, holdID).Error
}

// Order implements commerce.OrderStore.
func (s *Orders) Order(ctx context.Context, id int64) (commerce.Order, error) {
	var rows []orderRow
	if err := s.db.read(ctx).Raw(`SELECT * FROM orders WHERE id = ?`, id).Scan(&rows).Error; err != nil {
		return commerce.Order{}, fmt.Errorf("read order %d: %w", id, err)
	}
	if len(rows) == 0 {
		return commerce.Order{}, commerce.ErrNotFound
	}
	return s.load(ctx, rows[0])
}

// OrderForHold implements commerce.OrderStore.
func (s *Orders) OrderForHold(ctx context.Context, holdID int64) (commerce.Order, error) {
	var rows []orderRow
	if err := s.db.read(ctx).Raw(`SELECT * FROM orders WHERE hold_id = ? OR id IN (SELECT order_id FROM order_holds WHERE hold_id = ?)`, holdID, holdID).Scan(&rows).Error; err != nil {
		return commerce.Order{}, fmt.Errorf("read order for hold %d: %w", holdID, err)
	}
	if len(rows) == 0 {
		return commerce.Order{}, commerce.ErrNotFound
	}
	return s.load(ctx, rows[0])
}

// OrderForCart implements commerce.OrderStore.
func (s *Orders) OrderForCart(ctx context.Context, cartID int64) (commerce.Order, error) {
	var rows []orderRow
	if err := s.db.read(ctx).Raw(`SELECT * FROM orders WHERE hold_id IN (SELECT id FROM holds WHERE cart_id = ?) ORDER BY id DESC LIMIT 1`, cartID).Scan(&rows).Error; err != nil {
		return commerce.Order{}, fmt.Errorf("read order for cart %d: %w", cartID, err)
	}
	if len(rows) == 0 {
		return commerce.Order{}, commerce.ErrNotFound
	}
	return s.load(ctx, rows[0])
}

// BuyerOrders implements commerce.OrderStore.
func (s *Orders) BuyerOrders(ctx context.Context, buyerID string) ([]commerce.Order, error) {
	var rows []orderRow
	if err := s.db.read(ctx).Raw(`SELECT * FROM orders WHERE buyer_id = ? ORDER BY id DESC LIMIT 100`, buyerID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	return s.loadAll(ctx, rows)
}

// loadAll loads each row's order with its lines and timeline, in row order.
func (s *Orders) loadAll(ctx context.Context, rows []orderRow) ([]commerce.Order, error) {
	out := make([]commerce.Order, 0, len(rows))
	for _, r := range rows {
		o, err := s.load(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (s *Orders) load(ctx context.Context, r orderRow) (commerce.Order, error) {
	o := commerce.Order{
		ID: r.ID, MerchantID: r.MerchantID, BuyerID: r.BuyerID, HoldID: r.HoldID, Status: commerce.OrderStatus(r.Status),
		Total: commerce.Money{Amount: r.TotalAmount, Currency: r.Currency}, Provider: r.Provider, PaymentRef: r.PaymentRef, CreatedAt: r.CreatedAt,
	}
	if r.MethodLast4 != "" {
		o.Method = &commerce.SavedMethod{Provider: r.Provider, Brand: r.MethodBrand, Last4: r.MethodLast4}
	}
	if err := s.open(r.ShippingSealed, orderAAD(r.ID, "shipping"), &o.Shipping); err != nil {
		return o, err
	}
	if err := s.open(r.ContactSealed, orderAAD(r.ID, "contact"), &o.Contact); err != nil {
		return o, err
	}
	db := s.db.read(ctx)
	var items []struct {
		OfferID, Title, Variant string
		Quantity                int
		UnitAmount              int64
		Currency                string
	}
	if err := db.Raw(`SELECT offer_id, title, variant, quantity, unit_amount, currency FROM order_items WHERE order_id = ? ORDER BY id`, r.ID).Scan(&items).Error; err != nil {
		return o, err
	}
	for _, it := range items {
		o.Lines = append(o.Lines, commerce.OrderLine{OfferID: it.OfferID, Title: it.Title, Variant: it.Variant, Quantity: it.Quantity,
			UnitPrice: commerce.Money{Amount: it.UnitAmount, Currency: it.Currency}})
	}
	var events []struct {
		At     time.Time
		Status string
		Note   string
	}
	if err := db.Raw(`SELECT at, status, note FROM order_events WHERE order_id = ? ORDER BY id`, r.ID).Scan(&events).Error; err != nil {
		return o, err
	}
	for _, e := range events {
		o.Timeline = append(o.Timeline, commerce.OrderEvent{At: e.At, Status: commerce.OrderStatus(e.Status), Note: e.Note})
	}
	return o, nil
}

// SetOrderStatus implements commerce.OrderStore.
func (s *Orders) SetOrderStatus(ctx context.Context, id int64, to commerce.OrderStatus, note string, now time.Time) (commerce.Order, error) {
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		var rows []orderRow
		if err := s.db.write(ctx).Raw(`SELECT * FROM orders WHERE id = ?`+s.db.forUpdateWait(), id).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return commerce.ErrNotFound
		}
		from := commerce.OrderStatus(rows[0].Status)
		if !from.CanBecome(to) {
			return fmt.Errorf("order %d %s -> %s: %w", id, from, to, commerce.ErrConflict)
		}
		if err := s.db.write(ctx).Exec(`UPDATE orders SET status = ?, updated_at = ? WHERE id = ?`, string(to), now, id).Error; err != nil {
			return err
		}
		return s.event(ctx, id, to, note, now)
	})
	if err != nil {
		return commerce.Order{}, err
	}
	return s.Order(ctx, id)
}

// SavedDetails implements commerce.DetailsStore.
func (s *Orders) SavedDetails(ctx context.Context, buyerID string) (commerce.SavedDetails, error) {
	var rows []struct {
		ShippingSealed, ContactSealed, Provider, CustomerRef, MethodRef, MethodBrand, MethodLast4 string
	}
	if err := s.db.read(ctx).Raw(`SELECT shipping_sealed, contact_sealed, provider, customer_ref, method_ref, method_brand, method_last4 FROM buyer_details WHERE buyer_id = ?`, buyerID).Scan(&rows).Error; err != nil {
		return commerce.SavedDetails{}, fmt.Errorf("read saved details: %w", err)
	}
	if len(rows) == 0 || (rows[0].ShippingSealed == "" && rows[0].MethodRef == "") {
		return commerce.SavedDetails{}, commerce.ErrNotFound
	}
	r := rows[0]
	var d commerce.SavedDetails
	if err := s.open(r.ShippingSealed, buyerAAD(buyerID, "shipping"), &d.Shipping); err != nil {
		return d, err
	}
	if err := s.open(r.ContactSealed, buyerAAD(buyerID, "contact"), &d.Contact); err != nil {
		return d, err
	}
	if r.MethodRef != "" {
		d.Method = &commerce.SavedMethod{Provider: r.Provider, CustomerRef: r.CustomerRef, MethodRef: r.MethodRef, Brand: r.MethodBrand, Last4: r.MethodLast4}
	}
	return d, nil
}

// SaveDetails implements commerce.DetailsStore.
func (s *Orders) SaveDetails(ctx context.Context, buyerID string, d commerce.SavedDetails, now time.Time) error {
	ship, err := s.seal(d.Shipping, buyerAAD(buyerID, "shipping"))
	if err != nil {
		return err
	}
	contact, err := s.seal(d.Contact, buyerAAD(buyerID, "contact"))
	if err != nil {
		return err
	}
	m := commerce.SavedMethod{}
	if d.Method != nil {
		m = *d.Method
	}
	return s.db.write(ctx).Exec(`INSERT INTO buyer_details (buyer_id, shipping_sealed, contact_sealed, provider, customer_ref, method_ref, method_brand, method_last4, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (buyer_id) DO UPDATE SET shipping_sealed = excluded.shipping_sealed, contact_sealed = excluded.contact_sealed, provider = excluded.provider,
customer_ref = excluded.customer_ref, method_ref = excluded.method_ref, method_brand = excluded.method_brand, method_last4 = excluded.method_last4, updated_at = excluded.updated_at`,
		buyerID, ship, contact, m.Provider, m.CustomerRef, m.MethodRef, m.Brand, m.Last4, now).Error
}

// MerchantOrders returns a merchant's orders created since a time, oldest
// first, with their addresses (the merchant's own orders only).
func (s *Orders) MerchantOrders(ctx context.Context, merchantID string, since time.Time) ([]commerce.Order, error) {
	var rows []orderRow
	if err := s.db.read(ctx).Raw(`SELECT * FROM orders WHERE merchant_id = ? AND created_at >= ? ORDER BY id`, merchantID, since.UTC()).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read merchant orders: %w", err)
	}
	return s.loadAll(ctx, rows)
}
