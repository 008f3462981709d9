package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/vault"
)

var (
	adaContact = commerce.Contact{Email: "ada@example.com"}
	newAddress = commerce.Address{Name: "Ada Lovelace", Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4LB", Country: "GB"}
)

// rings holds keyrings over two keys, a (older) and b (newer), as an
// operator configures them before, during and after a rotation.
type rings struct{ a, ab, b *vault.Keyring }

func newRings(t *testing.T) rings {
	t.Helper()
	specA, err := vault.Generate("a")
	if err != nil {
		t.Fatal(err)
	}
	specB, err := vault.Generate("b")
	if err != nil {
		t.Fatal(err)
	}
	parse := func(spec string) *vault.Keyring {
		k, err := vault.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return rings{a: parse(specA), ab: parse(specA + "," + specB), b: parse(specB)}
}

// openWith opens the database at dsn with sealer as its data key, and
// migrates it.
func openWith(t *testing.T, driver, dsn string, now func() time.Time, sealer storage.Sealer) *storage.DB {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, driver, dsn, storage.Options{Now: now, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// sealedFixture writes, under key a, three orders (buyers 1 to 3), saved
// details for buyers 1 and 2, and a buyer 3 row with a payment method but
// no address (empty sealed values): 10 sealed values in all.
func sealedFixture(t *testing.T, db *storage.DB, clk *clock) []commerce.Order {
	t.Helper()
	ctx := context.Background()
	shop := newShop(t, db, clk)
	_, vinyl, _ := testCatalog()
	var orders []commerce.Order
	for i := 1; i <= 3; i++ {
		orders = append(orders, placeOrder(t, db, shop, vinyl, buyer(i), 1, clk.Now()))
	}
	for i := 1; i <= 2; i++ {
		if err := db.Orders().SaveDetails(ctx, buyer(i).XUserID, commerce.SavedDetails{Shipping: brooklyn, Contact: adaContact}, clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.ExecForTest(ctx, `INSERT INTO buyer_details (buyer_id, provider, method_ref, updated_at) VALUES (?, 'sandbox', 'pm_3', ?)`, buyer(3).XUserID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	return orders
}

// sealedKeyIDs returns the key id of every non-empty sealed value stored,
// by "table.column" of the value.
func sealedKeyIDs(t *testing.T, driver, dsn string) map[string][]string {
	t.Helper()
	ids := map[string][]string{}
	for _, line := range strings.Split(storagetest.AllText(t, driver, dsn), "\n") {
		col, value, _ := strings.Cut(line, "=")
		if !strings.HasSuffix(col, "_sealed") || value == "" {
			continue
		}
		id, err := vault.KeyID(value)
		if err != nil {
			t.Fatalf("%s holds a value that is not sealed: %v", col, err)
		}
		ids[col] = append(ids[col], id)
	}
	return ids
}

// After a rotation every value is under the newest key: a database opened
// with that key alone reads every order and saved address, and running the
// rotation again changes nothing.
func TestRotateKeysResealsEveryOldValueWithTheNewestKey(t *testing.T) {
	for _, d := range storagetest.Drivers() {
		for _, batch := range []int{1, 2, 500} {
			t.Run(fmt.Sprintf("%s/batch=%d", d, batch), func(t *testing.T) {
				ctx := context.Background()
				clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
				k := newRings(t)
				driver, dsn := storagetest.DSN(t, d)
				orders := sealedFixture(t, openWith(t, driver, dsn, clk.Now, k.a), clk)

				n, err := openWith(t, driver, dsn, clk.Now, k.ab).RotateKeys(ctx, k.ab, batch)
				if err != nil || n != 10 {
					t.Fatalf("rotate = %d, %v; want 10 values re-sealed", n, err)
				}
				ids := sealedKeyIDs(t, driver, dsn)
				total := 0
				for col, got := range ids {
					total += len(got)
					for _, id := range got {
						if id != "b" {
							t.Errorf("%s: a value is still under key %q after rotation", col, id)
						}
					}
				}
				if total != 10 {
					t.Errorf("%d sealed values stored, want 10: %v", total, ids)
				}

				onlyB := openWith(t, driver, dsn, clk.Now, k.b)
				for _, o := range orders {
					got, err := onlyB.Orders().Order(ctx, o.ID)
					if err != nil || got.Shipping != brooklyn || got.Contact != adaContact {
						t.Errorf("order %d with key b alone: shipping %+v contact %+v, %v", o.ID, got.Shipping, got.Contact, err)
					}
				}
				for i := 1; i <= 2; i++ {
					got, err := onlyB.Orders().SavedDetails(ctx, buyer(i).XUserID)
					if err != nil || got.Shipping != brooklyn || got.Contact != adaContact {
						t.Errorf("saved details of buyer %d with key b alone: %+v, %v", i, got, err)
					}
				}
				if got, err := onlyB.Orders().SavedDetails(ctx, buyer(3).XUserID); err != nil || got.Method == nil || got.Method.MethodRef != "pm_3" {
					t.Errorf("method-only details of buyer 3: %+v, %v", got, err)
				}

				if n, err := onlyB.RotateKeys(ctx, k.b, batch); err != nil || n != 0 {
					t.Fatalf("second rotation = %d, %v; want 0", n, err)
				}
				if n, err := openWith(t, driver, dsn, clk.Now, k.ab).RotateKeys(ctx, k.ab, batch); err != nil || n != 0 {
					t.Fatalf("second rotation with both keys = %d, %v; want 0", n, err)
				}
			})
		}
	}
}

// A value rotation cannot open stops it with an error that says where the
// value is, for the operator, and never what it holds.
func TestRotateKeysStopsAtAValueItCannotOpen(t *testing.T) {
	cases := []struct {
		name string
		// spoil damages the fixture.
		spoil   func(t *testing.T, db *storage.DB)
		rotator func(k rings) storage.Rotator
		want    error
		where   []string
		// done is how many values are re-sealed before the failure.
		done int
	}{
		{
			name:    "old key dropped before rotating",
			spoil:   func(t *testing.T, db *storage.DB) {},
			rotator: func(k rings) storage.Rotator { return k.b },
			want:    vault.ErrUnknownKey,
			where:   []string{"orders", "id 1 ", "shipping_sealed"},
			done:    0,
		},
		{
			name: "contact moved from another buyer's row",
			spoil: func(t *testing.T, db *storage.DB) {
				t.Helper()
				ctx := context.Background()
				if err := db.ExecForTest(ctx, `UPDATE buyer_details SET contact_sealed = (SELECT contact_sealed FROM buyer_details WHERE buyer_id = ?) WHERE buyer_id = ?`,
					buyer(1).XUserID, buyer(2).XUserID); err != nil {
					t.Fatal(err)
				}
			},
			rotator: func(k rings) storage.Rotator { return k.ab },
			want:    vault.ErrCorrupt,
			where:   []string{"buyer_details", "buyer_id " + buyer(2).XUserID, "contact_sealed"},
			done:    6, // the orders' values, in the pages before
		},
	}
	for _, d := range storagetest.Drivers() {
		for _, tc := range cases {
			t.Run(d+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
				k := newRings(t)
				driver, dsn := storagetest.DSN(t, d)
				db := openWith(t, driver, dsn, clk.Now, k.a)
				sealedFixture(t, db, clk)
				tc.spoil(t, db)

				n, err := db.RotateKeys(ctx, tc.rotator(k), 2)
				if !errors.Is(err, tc.want) {
					t.Fatalf("rotate = %d, %v; want an error wrapping %v", n, err, tc.want)
				}
				if n != tc.done {
					t.Errorf("re-sealed %d values before stopping, want %d", n, tc.done)
				}
				msg := err.Error()
				for _, w := range tc.where {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q does not name %q", msg, w)
					}
				}
				secrets := []string{"Kent Avenue", "Ada", "ada@example.com", "11249"}
				for _, line := range strings.Split(storagetest.AllText(t, driver, dsn), "\n") {
					col, value, _ := strings.Cut(line, "=")
					if _, payload, ok := strings.Cut(strings.TrimPrefix(value, "v1."), "."); ok && strings.HasSuffix(col, "_sealed") {
						secrets = append(secrets, payload[:16])
					}
				}
				for _, secret := range secrets {
					if strings.Contains(msg, secret) {
						t.Errorf("error %q contains %q", msg, secret)
					}
				}
			})
		}
	}
}

// rewriteDuringOpen is a Rotator that, the first time rotation opens the
// value sealed for aad, runs write first: a buyer saving new details while
// the rotation is between reading a value and writing it back.
type rewriteDuringOpen struct {
	storage.Rotator
	aad   string
	write func()
	once  sync.Once
}

func (r *rewriteDuringOpen) Open(sealed, aad string) ([]byte, error) {
	if aad == r.aad {
		r.once.Do(r.write)
	}
	return r.Rotator.Open(sealed, aad)
}

// Rotation never puts an old value back over one written meanwhile.
func TestRotateKeysKeepsAConcurrentWrite(t *testing.T) {
	for _, d := range storagetest.Drivers() {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
			k := newRings(t)
			driver, dsn := storagetest.DSN(t, d)
			sealedFixture(t, openWith(t, driver, dsn, clk.Now, k.a), clk)
			serving := openWith(t, driver, dsn, clk.Now, k.ab)
			moved := commerce.SavedDetails{Shipping: newAddress, Contact: commerce.Contact{Email: "ada@example.org"}}
			r := &rewriteDuringOpen{Rotator: k.ab, aad: "buyer:" + buyer(1).XUserID + ":shipping", write: func() {
				if err := serving.Orders().SaveDetails(ctx, buyer(1).XUserID, moved, clk.Now()); err != nil {
					t.Error(err)
				}
			}}

			n, err := openWith(t, driver, dsn, clk.Now, k.ab).RotateKeys(ctx, r, 500)
			if err != nil || n != 8 {
				t.Fatalf("rotate = %d, %v; want 8 (buyer 1's two values were rewritten meanwhile)", n, err)
			}
			got, err := openWith(t, driver, dsn, clk.Now, k.b).Orders().SavedDetails(ctx, buyer(1).XUserID)
			if err != nil || got.Shipping != moved.Shipping || got.Contact != moved.Contact {
				t.Fatalf("buyer 1's details after rotation = %+v, %v; want the ones saved during it", got, err)
			}
		})
	}
}
