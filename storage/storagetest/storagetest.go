// Package storagetest opens fresh, migrated hashcart databases for tests:
// a SQLite file in the test's temporary directory, and, when
// HASHCART_TEST_POSTGRES_DSN is set, a new PostgreSQL schema dropped when
// the test ends.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/vault"
	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// PostgresEnv names the variable that enables the PostgreSQL tests.
const PostgresEnv = "HASHCART_TEST_POSTGRES_DSN"

// Options tunes a test database.
type Options struct {
	Now func() time.Time
	// MaxOpenConns as in storage.Options.
	MaxOpenConns int
	// Sealer encrypts personal data; a fresh test keyring when nil.
	Sealer storage.Sealer
}

// TestKeyring returns a keyring with one fresh random key.
func TestKeyring(t testing.TB) *vault.Keyring {
	t.Helper()
	spec, err := vault.Generate("test")
	if err != nil {
		t.Fatal(err)
	}
	k, err := vault.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Drivers lists the databases to run a test against: sqlite always, and
// postgres when HASHCART_TEST_POSTGRES_DSN is set.
func Drivers() []string {
	if os.Getenv(PostgresEnv) != "" {
		return []string{storage.DriverSQLite, storage.DriverPostgres}
	}
	return []string{storage.DriverSQLite}
}

// Each runs fn as a subtest once per driver in Drivers, with a fresh
// database each. When PostgreSQL is not configured it adds a skipped
// subtest that says how to enable it.
func Each(t *testing.T, opts Options, fn func(t *testing.T, db *storage.DB)) {
	t.Helper()
	for _, d := range []string{storage.DriverSQLite, storage.DriverPostgres} {
		t.Run(d, func(t *testing.T) {
			db := Open(t, d, opts)
			fn(t, db)
		})
	}
}

// Open returns a fresh migrated database of the given driver, closed (and
// on PostgreSQL dropped) when the test ends. On postgres without
// HASHCART_TEST_POSTGRES_DSN the test is skipped with a message.
func Open(t testing.TB, driver string, opts Options) *storage.DB {
	t.Helper()
	driverName, dsn := DSN(t, driver)
	if opts.Sealer == nil {
		opts.Sealer = TestKeyring(t)
	}
	db, err := storage.Open(context.Background(), driverName, dsn, storage.Options{Now: opts.Now, MaxOpenConns: opts.MaxOpenConns, Sealer: opts.Sealer})
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", driver, err)
	}
	return db
}

// DSN returns a DSN for a fresh, empty database of the given driver (not
// migrated), for tests that run the binary against it.
func DSN(t testing.TB, driver string) (string, string) {
	t.Helper()
	switch driver {
	case storage.DriverSQLite:
		return driver, filepath.Join(t.TempDir(), "hashcart.db")
	case storage.DriverPostgres:
		base := os.Getenv(PostgresEnv)
		if base == "" {
			t.Skipf("PostgreSQL tests skipped: set %s=postgres://user@host:5432/db?sslmode=disable to run them (.ci/run does)", PostgresEnv)
		}
		return driver, freshSchema(t, base)
	}
	t.Fatalf("unknown driver %q", driver)
	return "", ""
}

func freshSchema(t testing.TB, base string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	if err := admin.Exec(fmt.Sprintf("CREATE SCHEMA %s", schema)).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_ = admin.Exec(fmt.Sprintf("DROP SCHEMA %s CASCADE", schema)).Error
		if sqldb, err := admin.DB(); err == nil {
			_ = sqldb.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// AllText returns every value of every table of the database as text, one
// "table.column=value" per line: tests search it for data that must never
// be stored in the clear.
func AllText(t testing.TB, driver, dsn string) string {
	t.Helper()
	var dialector gorm.Dialector
	if driver == storage.DriverPostgres {
		dialector = postgres.Open(dsn)
	} else {
		dialector = sqliteOpen(dsn)
	}
	g, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open for scan: %v", err)
	}
	defer func() {
		if sqldb, err := g.DB(); err == nil {
			sqldb.Close()
		}
	}()
	tables, err := g.Migrator().GetTables()
	if err != nil || len(tables) == 0 {
		t.Fatalf("list tables: %v (%d)", err, len(tables))
	}
	var b strings.Builder
	for _, table := range tables {
		rows, err := g.Table(table).Rows()
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("scan %s: %v", table, err)
			}
			for i, v := range vals {
				fmt.Fprintf(&b, "%s.%s=%v\n", table, cols[i], textOf(v))
			}
		}
		rows.Close()
	}
	return b.String()
}

func textOf(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(v)
}

func sqliteOpen(dsn string) gorm.Dialector { return sqlite.Open(dsn) }
