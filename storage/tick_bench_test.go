package storage_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

// seedMillion fills a database with n holds (a tenth still active, half of
// those expired) and n open carts, spread over two days, with set-based
// SQL so that a million rows take seconds.
func seedMillion(b *testing.B, db *storage.DB, n int) time.Time {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	gen := fmt.Sprintf("WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < %d) SELECT i FROM seq", n)
	if db.Driver() == storage.DriverPostgres {
		gen = fmt.Sprintf("SELECT generate_series(1, %d) AS i", n)
	}
	ts := func(expr string) string {
		if db.Driver() == storage.DriverPostgres {
			return fmt.Sprintf("(TIMESTAMPTZ '2026-12-01 12:00:00+00' - (%s) * INTERVAL '1 second')", expr)
		}
		return fmt.Sprintf("strftime('%%Y-%%m-%%d %%H:%%M:%%S+00:00', '2026-12-01 12:00:00', printf('%%d seconds', -(%s)))", expr)
	}
	err := db.SeedForTest(context.Background(),
		`INSERT INTO buyers (x_user_id, screen_name, created_at, updated_at) SELECT 'b' || i, 'b', `+ts("0")+`, `+ts("0")+` FROM (`+gen+`) s`,
		`INSERT INTO holds (merchant_id, offer_id, variant, stock_key, buyer_id, quantity, unit_amount, currency, status, created_at, expires_at, updated_at)
		 SELECT 'acme', 'o' || (i % 50), '', '', 'b' || i, 1, 1000, 'USD', CASE WHEN i % 10 = 0 THEN 'active' ELSE 'expired' END,
		 `+ts("i % 172800")+`, `+ts("i % 172800 - 900")+`, `+ts("0")+` FROM (`+gen+`) s`,
		`INSERT INTO carts (merchant_id, buyer_id, status, created_at, updated_at) SELECT 'acme', 'b' || i, 'open', `+ts("i % 172800")+`, `+ts("i % 172800")+` FROM (`+gen+`) s`,
		`INSERT INTO cart_items (cart_id, offer_id, variant, title, quantity, unit_amount, currency, created_at, updated_at)
		 SELECT id, 'o1', '', 'Print', 1, 1000, 'USD', created_at, updated_at FROM carts`,
	)
	if err != nil {
		b.Fatal(err)
	}
	return now
}

// benchRows is HASHCART_BENCH_ROWS, or def when it is not set.
func benchRows(def int) int {
	n := def
	if v := os.Getenv("HASHCART_BENCH_ROWS"); v != "" {
		fmt.Sscan(v, &n)
	}
	return n
}

// BenchmarkTicksOverAMillionRows times one expiry tick and the reminder
// queries of one step over a million holds and a million carts. Set
// HASHCART_BENCH_ROWS to change the count.
func BenchmarkTicksOverAMillionRows(b *testing.B) {
	n := benchRows(1_000_000)
	for _, d := range storagetest.Drivers() {
		b.Run(d, func(b *testing.B) {
			db := storagetest.Open(b, d, storagetest.Options{})
			start := time.Now()
			now := seedMillion(b, db, n)
			b.Logf("seeded %d holds and %d carts in %v", n, n, time.Since(start).Round(time.Millisecond))
			ctx := context.Background()
			if os.Getenv("HASHCART_BENCH_PLANS") != "" {
				b.Logf("cart reminders plan:\n%s", db.ExplainForTest(ctx, `SELECT c.id FROM carts c JOIN buyers b ON b.x_user_id = c.buyer_id
WHERE c.status = 'open' AND c.updated_at <= ? AND c.updated_at > ? AND b.reminders_off = 0
AND EXISTS (SELECT 1 FROM cart_items i WHERE i.cart_id = c.id)
AND NOT EXISTS (SELECT 1 FROM outbox_messages m WHERE m.msg_key = 'reminder:cart:' || c.id || ':1')
ORDER BY c.updated_at LIMIT 200`, now.Add(-time.Hour), now.Add(-2*time.Hour)))
				b.Logf("hold reminders plan:\n%s", db.ExplainForTest(ctx, `SELECT h.id FROM holds h JOIN buyers b ON b.x_user_id = h.buyer_id
WHERE h.created_at <= ? AND h.created_at > ? AND b.reminders_off = 0
AND NOT EXISTS (SELECT 1 FROM holds e WHERE e.merchant_id = h.merchant_id AND e.offer_id = h.offer_id AND e.buyer_id = h.buyer_id AND e.id < h.id)
ORDER BY h.created_at LIMIT 200`, now.Add(-time.Hour), now.Add(-2*time.Hour)))
				b.Logf("expiry plan:\n%s", db.ExplainForTest(ctx, `SELECT * FROM holds WHERE status = 'active' AND expires_at <= ? ORDER BY expires_at LIMIT 500`, now))
			}
			b.Run("expiry", func(b *testing.B) {
				for b.Loop() {
					if _, err := db.Shop().ReleaseExpired(ctx, now, 500); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("cart_reminders", func(b *testing.B) {
				for b.Loop() {
					if _, err := db.Shop().DueCartReminders(ctx, 1, now.Add(-2*time.Hour), now.Add(-time.Hour), commerce.ReminderCursor{}, 200); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("hold_reminders", func(b *testing.B) {
				for b.Loop() {
					if _, err := db.Shop().DueHoldReminders(ctx, 1, now.Add(-2*time.Hour), now.Add(-time.Hour), commerce.ReminderCursor{}, 200); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkReminderStepOverABacklog answers one reminder step for a
// backlog of due carts (4,000; HASHCART_BENCH_ROWS changes it) as a run
// does: batches of 20, each claimed in a transaction and answered by
// queuing its reminder, each reading on from the last one's cursor.
// ns/op is the whole step; query-ms/op the candidate queries' part.
func BenchmarkReminderStepOverABacklog(b *testing.B) {
	n := benchRows(4000)
	for _, d := range storagetest.Drivers() {
		b.Run(d, func(b *testing.B) {
			ctx := context.Background()
			var queries time.Duration
			for range b.N {
				b.StopTimer()
				db := storagetest.Open(b, d, storagetest.Options{})
				now := seedMillion(b, db, n)
				since, before := now.Add(-49*time.Hour), now
				b.StartTimer()
				var after commerce.ReminderCursor
				answered := 0
				for {
					var due []commerce.CartReminder
					err := db.InTx(ctx, func(ctx context.Context) error {
						start := time.Now()
						var err error
						due, err = db.Shop().DueCartReminders(ctx, 1, since, before, after, 20)
						queries += time.Since(start)
						for i := 0; err == nil && i < len(due); i++ {
							err = db.Outbox().Enqueue(ctx, outbox.Message{Key: commerce.CartReminderKey(due[i].CartID, 1), MerchantID: "acme",
								Kind: outbox.KindDM, RecipientID: due[i].Buyer.XUserID, Text: "Still thinking it over?"})
						}
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
					answered += len(due)
					if len(due) < 20 {
						break
					}
					after = due[len(due)-1].Cursor
				}
				if answered != n {
					b.Fatalf("answered %d of %d due carts", answered, n)
				}
			}
			b.ReportMetric(float64(queries.Milliseconds())/float64(b.N), "query-ms/op")
		})
	}
}
