package storage

import (
	"context"
	"fmt"
)

// Rotator is what re-sealing needs beyond [Sealer]: telling which sealed
// values were written with a key other than the newest. vault.Keyring
// implements it.
type Rotator interface {
	Sealer
	// NeedsRotation reports whether sealed was written with a key other
	// than the one Seal uses now.
	NeedsRotation(sealed string) bool
}

// sealedTable describes a table holding sealed personal data: its name, its
// primary key column, and the aad each of its values is sealed with.
type sealedTable[K int64 | string] struct {
	name string
	key  string
	aad  func(key K, field string) string
}

// RotateKeys re-seals, with r's newest key, every sealed value (addresses
// and contacts of orders and of buyers' saved details) written with an older
// key, and returns how many values it re-sealed. Empty values are skipped.
//
// It pages through each table by primary key, batch rows at a time, and
// writes each page's changes in a transaction of its own, so a large table
// never holds one long transaction. Each update is a compare-and-set on the
// old sealed value: a value rewritten meanwhile (a buyer saving new details)
// is left as the concurrent writer made it. It is therefore safe to run
// while hashcart serves, provided every instance already holds the new key,
// and it is idempotent: a second run re-seals 0 values, unless an instance
// still sealing with an older key wrote in between.
//
// It stops at the first value it cannot open (its key is not in r, or it is
// corrupt, or it was moved from another row) with an error that names the
// table, the row's key and the column, wraps the error from r.Open, and never
// contains the sealed value or its plaintext. Pages before that one stay
// re-sealed and are counted in the returned number; running again after the
// problem is fixed carries on. Values that are not well-formed sealed values
// at all are not reported (r.NeedsRotation is false for them).
func (db *DB) RotateKeys(ctx context.Context, r Rotator, batch int) (int, error) {
	if r == nil {
		return 0, fmt.Errorf("rotate keys: %w", ErrNoSealer)
	}
	if batch < 1 {
		return 0, fmt.Errorf("rotate keys: batch %d, want at least 1", batch)
	}
	orders := sealedTable[int64]{name: "orders", key: "id", aad: orderAAD}
	buyers := sealedTable[string]{name: "buyer_details", key: "buyer_id", aad: buyerAAD}
	n, err := rotateTable(ctx, db, r, batch, orders)
	if err != nil {
		return n, err
	}
	m, err := rotateTable(ctx, db, r, batch, buyers)
	return n + m, err
}

// sealedRow is one row of a sealedTable, as rotation reads it.
type sealedRow[K int64 | string] struct {
	RowKey         K
	ShippingSealed string
	ContactSealed  string
}

// sealedField is one sealed value of a row: its column, the field name its
// aad uses, and the value.
type sealedField struct{ column, field, value string }

func (r sealedRow[K]) fields() [2]sealedField {
	return [2]sealedField{
		{"shipping_sealed", "shipping", r.ShippingSealed},
		{"contact_sealed", "contact", r.ContactSealed},
	}
}

// resealed is one value to write back: where, what was there, what goes in.
type resealed[K int64 | string] struct {
	key         K
	column      string
	old, sealed string
}

// rotateTable re-seals one table's values page by page and returns how many
// it re-sealed.
func rotateTable[K int64 | string](ctx context.Context, db *DB, r Rotator, batch int, t sealedTable[K]) (int, error) {
	total := 0
	var after K
	first := true
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("rotate keys: %s: %w", t.name, err)
		}
		// The page is read outside the transaction: the compare-and-set
		// below makes that safe, and the write transaction (SQLite's one
		// writer) is held only for the updates, not for the crypto.
		q := `SELECT ` + t.key + ` AS row_key, shipping_sealed, contact_sealed FROM ` + t.name
		args := []any{}
		if !first {
			q += ` WHERE ` + t.key + ` > ?`
			args = append(args, after)
		}
		q += ` ORDER BY ` + t.key + ` LIMIT ?`
		args = append(args, batch)
		var rows []sealedRow[K]
		if err := db.read(ctx).Raw(q, args...).Scan(&rows).Error; err != nil {
			return total, fmt.Errorf("rotate keys: read %s: %w", t.name, err)
		}
		if len(rows) == 0 {
			return total, nil
		}
		var changes []resealed[K]
		for _, row := range rows {
			for _, f := range row.fields() {
				old := f.value
				if old == "" || !r.NeedsRotation(old) {
					continue
				}
				aad := t.aad(row.RowKey, f.field)
				plain, err := r.Open(old, aad)
				if err != nil {
					return total, fmt.Errorf("rotate keys: %s %s %v %s: %w", t.name, t.key, row.RowKey, f.column, err)
				}
				sealed, err := r.Seal(plain, aad)
				clear(plain)
				if err != nil {
					return total, fmt.Errorf("rotate keys: %s %s %v %s: %w", t.name, t.key, row.RowKey, f.column, err)
				}
				changes = append(changes, resealed[K]{key: row.RowKey, column: f.column, old: old, sealed: sealed})
			}
		}
		if len(changes) > 0 {
			n := 0
			err := db.InTx(ctx, func(ctx context.Context) error {
				n = 0
				tx := db.write(ctx)
				for _, c := range changes {
					res := tx.Exec(`UPDATE `+t.name+` SET `+c.column+` = ? WHERE `+t.key+` = ? AND `+c.column+` = ?`, c.sealed, c.key, c.old)
					if res.Error != nil {
						return fmt.Errorf("%s %v %s: %w", t.key, c.key, c.column, res.Error)
					}
					n += int(res.RowsAffected)
				}
				return nil
			})
			if err != nil {
				return total, fmt.Errorf("rotate keys: update %s: %w", t.name, err)
			}
			total += n
		}
		if len(rows) < batch {
			return total, nil
		}
		after, first = rows[len(rows)-1].RowKey, false
	}
}
