package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// Shop implements commerce.HoldStore, commerce.CartStore,
// commerce.TokenStore and commerce.BuyerStore.
type Shop struct{ db *DB }

// Shop returns the commerce store.
func (db *DB) Shop() *Shop { return &Shop{db: db} }

var (
	_ commerce.HoldStore  = (*Shop)(nil)
	_ commerce.CartStore  = (*Shop)(nil)
	_ commerce.TokenStore = (*Shop)(nil)
	_ commerce.BuyerStore = (*Shop)(nil)
)

type holdRow struct {
	ID         int64
	MerchantID string
	OfferID    string
	Variant    string
	StockKey   string
	BuyerID    string
	Quantity   int
	UnitAmount int64
	Currency   string
	Status     string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UpdatedAt  time.Time
	CartID     *int64
	// LinkOpenedAt is when the hold's checkout page was first opened.
	LinkOpenedAt *time.Time
}

func (holdRow) TableName() string { return "holds" }

// holdColumns are the holds table's columns in holdRow's field order, for
// queryHolds.
const holdColumns = `id, merchant_id, offer_id, variant, stock_key, buyer_id, quantity, unit_amount, currency, status, created_at, expires_at, updated_at, cart_id, link_opened_at`

// queryHolds reads the holds a query selecting holdColumns returns,
// straight through database/sql (see DB.exec): for the lookups every
// "#BuyNow" runs.
func (s *Shop) queryHolds(ctx context.Context, query string, args ...any) ([]holdRow, error) {
	rows, err := s.db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []holdRow
	for rows.Next() {
		var r holdRow
		if err := rows.Scan(&r.ID, &r.MerchantID, &r.OfferID, &r.Variant, &r.StockKey, &r.BuyerID, &r.Quantity, &r.UnitAmount, &r.Currency,
			&r.Status, &r.CreatedAt, &r.ExpiresAt, &r.UpdatedAt, &r.CartID, &r.LinkOpenedAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (r holdRow) hold() commerce.Hold {
	var cartID int64
	if r.CartID != nil {
		cartID = *r.CartID
	}
	return commerce.Hold{
		ID: r.ID, MerchantID: r.MerchantID, OfferID: r.OfferID, Variant: r.Variant, BuyerID: r.BuyerID,
		Quantity: r.Quantity, UnitPrice: commerce.Money{Amount: r.UnitAmount, Currency: r.Currency},
		Status: commerce.HoldStatus(r.Status), CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, CartID: cartID,
		LinkOpened: r.LinkOpenedAt != nil,
	}
}

// SyncStock makes the stock counters match the catalog: new counters are
// created, totals updated, and held and sold recounted from the holds, so
// units already held and sold are kept. A configured stock is the offer's
// total (sold + held + still for sale); one below what is already sold and
// held is raised to it, leaving none for sale (see SyncStockReport). Run it
// at start and on reload, before reservations are taken.
func (s *Shop) SyncStock(ctx context.Context, c *commerce.Catalog) error {
	_, err := s.SyncStockReport(ctx, c)
	return err
}

// StockShortfall is a counter whose configured stock is below the units
// already sold and held: its total was set to Taken, so nothing is left.
type StockShortfall struct {
	MerchantID, OfferID, Variant string
	Configured, Taken            int
}

// SyncStockReport is SyncStock, and it returns the counters whose
// configured stock was below what is already sold and held.
func (s *Shop) SyncStockReport(ctx context.Context, c *commerce.Catalog) ([]StockShortfall, error) {
	var short []StockShortfall
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		short = short[:0]
		tx := s.db.write(ctx)
		// Totals are set after the recount: until then a counter is
		// unlimited, so the CHECK (held + sold <= total) cannot trip on a
		// stale count or a lowered stock. Nobody sees it: one transaction.
		for _, m := range c.Merchants() {
			for _, o := range m.Offers {
				for key := range o.StockCounters() {
					err := tx.Exec(`INSERT INTO stock (merchant_id, offer_id, variant, total) VALUES (?, ?, ?, NULL)
ON CONFLICT (merchant_id, offer_id, variant) DO UPDATE SET total = NULL`, m.ID, o.ID, key).Error
					if err != nil {
						return fmt.Errorf("sync stock %s/%s: %w", m.ID, o.ID, err)
					}
				}
			}
		}
		// Counters are exact after a sync: unlimited counters are not kept
		// up to date (see take), and an offer may just have become limited.
		err := tx.Exec(`UPDATE stock SET
held = (SELECT COALESCE(SUM(h.quantity), 0) FROM holds h WHERE h.merchant_id = stock.merchant_id AND h.offer_id = stock.offer_id AND h.stock_key = stock.variant AND h.status = 'active'),
sold = (SELECT COALESCE(SUM(h.quantity), 0) FROM holds h WHERE h.merchant_id = stock.merchant_id AND h.offer_id = stock.offer_id AND h.stock_key = stock.variant AND h.status = 'converted')`).Error
		if err != nil {
			return fmt.Errorf("sync stock: recount: %w", err)
		}
		for _, m := range c.Merchants() {
			for _, o := range m.Offers {
				for key, total := range o.StockCounters() {
					if total == nil {
						continue
					}
					var taken int
					if err := tx.Raw(`SELECT held + sold FROM stock WHERE merchant_id = ? AND offer_id = ? AND variant = ?`, m.ID, o.ID, key).Scan(&taken).Error; err != nil {
						return fmt.Errorf("sync stock %s/%s: %w", m.ID, o.ID, err)
					}
					n := *total
					if taken > n {
						short = append(short, StockShortfall{MerchantID: m.ID, OfferID: o.ID, Variant: key, Configured: n, Taken: taken})
						n = taken
					}
					if err := tx.Exec(`UPDATE stock SET total = ? WHERE merchant_id = ? AND offer_id = ? AND variant = ?`, n, m.ID, o.ID, key).Error; err != nil {
						return fmt.Errorf("sync stock %s/%s: %w", m.ID, o.ID, err)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return short, nil
}

// upsertBuyer records the buyer and, on PostgreSQL, locks their row until
// the transaction ends, so one buyer's reservations are serialised.
func (s *Shop) upsertBuyer(ctx context.Context, b commerce.Buyer, now time.Time) error {
	_, err := s.db.exec(ctx, `INSERT INTO buyers (x_user_id, screen_name, created_at, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (x_user_id) DO UPDATE SET screen_name = CASE WHEN excluded.screen_name = '' THEN buyers.screen_name ELSE excluded.screen_name END, updated_at = excluded.updated_at`,
		b.XUserID, b.ScreenName, now, now)
	return err
}

// Reserve implements commerce.HoldStore.
func (s *Shop) Reserve(ctx context.Context, r commerce.Reservation) (commerce.Hold, bool, error) {
	var out commerce.Hold
	reused := false
	o := r.Offer
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		if err := s.upsertBuyer(ctx, r.Buyer, r.Now); err != nil {
			return err
		}
		existing, err := s.queryHolds(ctx, `SELECT `+holdColumns+` FROM holds WHERE merchant_id = ? AND offer_id = ? AND buyer_id = ? AND status = 'active' AND cart_id IS NULL`,
			o.MerchantID, o.ID, r.Buyer.XUserID)
		if err != nil {
			return err
		}
		for _, h := range existing {
			if h.ExpiresAt.After(r.Now) {
				out, reused = h.hold(), true
				return nil
			}
			if err := s.expireHold(ctx, h, r.Now); err != nil {
				return err
			}
		}
		row, err := s.reserveUnits(ctx, r, nil)
		if err != nil {
			return err
		}
		out = row.hold()
		return nil
	})
	if err != nil {
		return commerce.Hold{}, false, err
	}
	return out, reused, nil
}

// reserveUnits holds r.Quantity units for r.Buyer in ctx's transaction,
// for a cart's checkout when cartID is set: the per-customer limit counts
// every active and sold hold of the buyer on the offer, units freed for
// waiting buyers stay theirs, and holds that ran out give their units back
// before the buyer is told it sold out.
func (s *Shop) reserveUnits(ctx context.Context, r commerce.Reservation, cartID *int64) (holdRow, error) {
	tx := s.db.write(ctx)
	o := r.Offer
	if o.PerCustomerLimit > 0 {
		var used int
		if err := tx.Raw(`SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE merchant_id = ? AND offer_id = ? AND buyer_id = ? AND status IN ('active', 'converted')`,
			o.MerchantID, o.ID, r.Buyer.XUserID).Scan(&used).Error; err != nil {
			return holdRow{}, err
		}
		if used+r.Quantity > o.PerCustomerLimit {
			return holdRow{}, &commerce.LimitError{Limit: o.PerCustomerLimit, Remaining: max(0, o.PerCustomerLimit-used)}
		}
	}
	key := o.StockKey(r.Variant)
	if total, ok := o.StockCounters()[key]; !r.FromWaitlist && !(ok && total == nil) {
		// Freed units belong to the buyers already waiting. (Unlimited
		// stock frees no units and keeps no one waiting.)
		if queued, err := s.waiting(ctx, o, key); err != nil || queued {
			if err != nil {
				return holdRow{}, err
			}
			return holdRow{}, commerce.ErrSoldOut
		}
	}
	ok, err := s.take(ctx, o, key, r.Quantity)
	if err != nil {
		return holdRow{}, err
	}
	if !ok {
		// Units of holds that ran out are free again; return them and
		// try once more.
		if _, err := s.releaseExpired(ctx, r.Now, 1000, o.MerchantID, o.ID, key); err != nil {
			return holdRow{}, err
		}
		if ok, err = s.take(ctx, o, key, r.Quantity); err != nil {
			return holdRow{}, err
		}
		if !ok {
			return holdRow{}, commerce.ErrSoldOut
		}
	}
	row := holdRow{
		MerchantID: o.MerchantID, OfferID: o.ID, Variant: r.Variant, StockKey: key, BuyerID: r.Buyer.XUserID,
		Quantity: r.Quantity, UnitAmount: o.Price.Amount, Currency: o.Price.Currency, Status: string(commerce.HoldActive),
		CreatedAt: r.Now, ExpiresAt: r.ExpiresAt, UpdatedAt: r.Now, CartID: cartID,
	}
	if err := tx.Create(&row).Error; err != nil {
		return holdRow{}, fmt.Errorf("insert hold: %w", err)
	}
	return row, nil
}

// take moves q units of a counter from free to held, if that many are free.
// An unlimited counter is not touched: it needs no check, and updating it
// would make every reservation of the offer queue for one row lock.
func (s *Shop) take(ctx context.Context, o *commerce.Offer, key string, q int) (bool, error) {
	if total, ok := o.StockCounters()[key]; ok && total == nil {
		return true, nil
	}
	res := s.db.write(ctx).Exec(`UPDATE stock SET held = held + ? WHERE merchant_id = ? AND offer_id = ? AND variant = ? AND (total IS NULL OR total - held - sold >= ?)`,
		q, o.MerchantID, o.ID, key, q)
	if res.Error != nil {
		return false, fmt.Errorf("take stock: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		var n int64
		if err := s.db.write(ctx).Raw(`SELECT COUNT(*) FROM stock WHERE merchant_id = ? AND offer_id = ? AND variant = ?`, o.MerchantID, o.ID, key).Scan(&n).Error; err != nil {
			return false, err
		}
		if n == 0 {
			return false, fmt.Errorf("no stock counter for %s/%s %q (stock not synced with the catalog)", o.MerchantID, o.ID, key)
		}
	}
	return res.RowsAffected == 1, nil
}

func (s *Shop) expireHold(ctx context.Context, h holdRow, now time.Time) error {
	tx := s.db.write(ctx)
	res := tx.Exec(`UPDATE holds SET status = 'expired', updated_at = ? WHERE id = ? AND status = 'active'`, now, h.ID)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return nil
	}
	return tx.Exec(`UPDATE stock SET held = held - ? WHERE merchant_id = ? AND offer_id = ? AND variant = ? AND total IS NOT NULL`,
		h.Quantity, h.MerchantID, h.OfferID, h.StockKey).Error
}

// ReleaseExpired expires up to limit active holds whose time has passed
// and returns their units to stock. It returns the holds released.
func (s *Shop) ReleaseExpired(ctx context.Context, now time.Time, limit int) ([]commerce.Hold, error) {
	var out []commerce.Hold
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		var err error
		out, err = s.releaseExpired(ctx, now, limit, "", "", "")
		return err
	})
	return out, err
}

func (s *Shop) releaseExpired(ctx context.Context, now time.Time, limit int, merchantID, offerID, key string) ([]commerce.Hold, error) {
	q := `SELECT * FROM holds WHERE status = 'active' AND expires_at <= ?`
	args := []any{now}
	if offerID != "" {
		q += ` AND merchant_id = ? AND offer_id = ? AND stock_key = ?`
		args = append(args, merchantID, offerID, key)
	}
	q += ` ORDER BY expires_at LIMIT ?` + s.db.forUpdate()
	args = append(args, limit)
	var rows []holdRow
	if err := s.db.write(ctx).Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("find expired holds: %w", err)
	}
	out := make([]commerce.Hold, 0, len(rows))
	for _, h := range rows {
		if err := s.expireHold(ctx, h, now); err != nil {
			return nil, fmt.Errorf("expire hold %d: %w", h.ID, err)
		}
		h.Status = string(commerce.HoldExpired)
		out = append(out, h.hold())
	}
	return out, nil
}

// LatestActiveHold implements commerce.HoldStore. A cart's holds are left
// out: they are bought only together, on the cart's page.
func (s *Shop) LatestActiveHold(ctx context.Context, merchantID, buyerID string, now time.Time) (commerce.Hold, error) {
	var rows []holdRow
	err := s.db.read(ctx).Raw(`SELECT * FROM holds WHERE merchant_id = ? AND buyer_id = ? AND status = 'active' AND expires_at > ? AND cart_id IS NULL ORDER BY id DESC LIMIT 1`,
		merchantID, buyerID, now).Scan(&rows).Error
	if err != nil {
		return commerce.Hold{}, fmt.Errorf("find hold: %w", err)
	}
	if len(rows) == 0 {
		return commerce.Hold{}, commerce.ErrNotFound
	}
	return rows[0].hold(), nil
}

// Hold returns a hold by id.
func (s *Shop) Hold(ctx context.Context, id int64) (commerce.Hold, error) {
	var rows []holdRow
	if err := s.db.read(ctx).Raw(`SELECT * FROM holds WHERE id = ?`, id).Scan(&rows).Error; err != nil {
		return commerce.Hold{}, fmt.Errorf("find hold %d: %w", id, err)
	}
	if len(rows) == 0 {
		return commerce.Hold{}, commerce.ErrNotFound
	}
	return rows[0].hold(), nil
}

// Remaining implements commerce.HoldStore.
func (s *Shop) Remaining(ctx context.Context, o *commerce.Offer) (map[string]*int, error) {
	var rows []struct {
		Variant string
		Total   *int
		Held    int
		Sold    int
	}
	if err := s.db.read(ctx).Raw(`SELECT variant, total, held, sold FROM stock WHERE merchant_id = ? AND offer_id = ?`, o.MerchantID, o.ID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	out := map[string]*int{}
	for _, r := range rows {
		if r.Total == nil {
			out[r.Variant] = nil
			continue
		}
		left := *r.Total - r.Held - r.Sold
		out[r.Variant] = &left
	}
	return out, nil
}

// CreateToken implements commerce.TokenStore.
func (s *Shop) CreateToken(ctx context.Context, t commerce.Token) error {
	return s.db.write(ctx).Exec(`INSERT INTO link_tokens (hash, buyer_id, target_kind, target_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Hash, t.BuyerID, string(t.Target.Kind), t.Target.ID, t.CreatedAt, t.ExpiresAt).Error
}

// TokenByHash returns the token stored under hash, or ErrNotFound.
func (s *Shop) TokenByHash(ctx context.Context, hash string) (commerce.Token, error) {
	var rows []struct {
		Hash       string
		BuyerID    string
		TargetKind string
		TargetID   int64
		CreatedAt  time.Time
		ExpiresAt  time.Time
	}
	if err := s.db.read(ctx).Raw(`SELECT hash, buyer_id, target_kind, target_id, created_at, expires_at FROM link_tokens WHERE hash = ?`, hash).Scan(&rows).Error; err != nil {
		return commerce.Token{}, err
	}
	if len(rows) == 0 {
		return commerce.Token{}, commerce.ErrNotFound
	}
	r := rows[0]
	return commerce.Token{Hash: r.Hash, BuyerID: r.BuyerID, Target: commerce.LinkTarget{Kind: commerce.LinkKind(r.TargetKind), ID: r.TargetID}, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}, nil
}

// AdjustHold changes an active hold's variant and quantity in one
// transaction: units are taken (if free) before any are returned, so a
// change that cannot be met leaves the hold as it was. The per-customer
// limit and buyers waiting for the offer are respected as in Reserve.
func (s *Shop) AdjustHold(ctx context.Context, holdID int64, o *commerce.Offer, variant string, qty int, now time.Time) (commerce.Hold, error) {
	var out commerce.Hold
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		tx := s.db.write(ctx)
		var rows []holdRow
		if err := tx.Raw(`SELECT * FROM holds WHERE id = ?`+s.db.forUpdateWait(), holdID).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return commerce.ErrNotFound
		}
		h := rows[0]
		if h.Status != string(commerce.HoldActive) || !now.Before(h.ExpiresAt) {
			return commerce.ErrExpired
		}
		if h.Variant == variant && h.Quantity == qty {
			out = h.hold()
			return nil
		}
		if o.PerCustomerLimit > 0 {
			var others int
			if err := tx.Raw(`SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE merchant_id = ? AND offer_id = ? AND buyer_id = ? AND status IN ('active', 'converted') AND id <> ?`,
				o.MerchantID, o.ID, h.BuyerID, h.ID).Scan(&others).Error; err != nil {
				return err
			}
			if others+qty > o.PerCustomerLimit {
				return &commerce.LimitError{Limit: o.PerCustomerLimit, Remaining: max(0, o.PerCustomerLimit-others)}
			}
		}
		key := o.StockKey(variant)
		need := qty
		if key == h.StockKey {
			need = qty - h.Quantity
		}
		if need > 0 {
			if queued, err := s.waiting(ctx, o, key); err != nil || queued {
				if err != nil {
					return err
				}
				return commerce.ErrSoldOut
			}
			ok, err := s.take(ctx, o, key, need)
			if err != nil {
				return err
			}
			if !ok {
				return commerce.ErrSoldOut
			}
		}
		giveBack, from := h.Quantity, h.StockKey
		if key == h.StockKey {
			giveBack = max(0, h.Quantity-qty)
		}
		if giveBack > 0 {
			if err := tx.Exec(`UPDATE stock SET held = held - ? WHERE merchant_id = ? AND offer_id = ? AND variant = ? AND total IS NOT NULL`,
				giveBack, h.MerchantID, h.OfferID, from).Error; err != nil {
				return err
			}
		}
		if err := tx.Exec(`UPDATE holds SET variant = ?, stock_key = ?, quantity = ?, updated_at = ? WHERE id = ?`, variant, key, qty, now, h.ID).Error; err != nil {
			return err
		}
		h.Variant, h.StockKey, h.Quantity = variant, key, qty
		out = h.hold()
		return nil
	})
	if err != nil {
		return commerce.Hold{}, fmt.Errorf("change hold %d: %w", holdID, err)
	}
	return out, nil
}
