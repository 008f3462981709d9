package storage

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// exec runs a statement in ctx's transaction (or on the writer) straight
// through database/sql. GORM's Exec rescans the SQL for placeholders and
// rebuilds it on every call; on the inbox's processing path that was a
// third of each statement's CPU. Use it for statements run per event.
//
// Arguments must be scalars (strings, numbers, times, nil or pointers to
// them): GORM would expand a slice into a list, exec does not.
// Placeholders are '?', as everywhere in this package.
func (db *DB) exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error) {
	res, err := db.write(ctx).Statement.ConnPool.ExecContext(ctx, db.bind(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// queryRow is exec for a query that returns at most one row, read from
// ctx's transaction (or the writer), with sql.Row's Scan and ErrNoRows.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.write(ctx).Statement.ConnPool.QueryRowContext(ctx, db.bind(query), args...)
}

// query is exec for a query's rows.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.write(ctx).Statement.ConnPool.QueryContext(ctx, db.bind(query), args...)
}

// pgBound caches statements with their '?' placeholders numbered for
// PostgreSQL ($1, $2, ...), as GORM numbers them. It stays small: the
// statements are constants, or multi-row inserts of a bounded number of
// rows.
var pgBound sync.Map // string -> string

// bind returns query with placeholders as the driver takes them: as they
// are on SQLite, numbered on PostgreSQL. Like GORM's, the numbering does
// not look inside quoted text: no statement of ours has a '?' there.
func (db *DB) bind(query string) string {
	if db.driver != DriverPostgres {
		return query
	}
	if b, ok := pgBound.Load(query); ok {
		return b.(string)
	}
	var sb strings.Builder
	sb.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			sb.WriteByte(query[i])
			continue
		}
		n++
		sb.WriteByte('$')
		sb.WriteString(strconv.Itoa(n))
	}
	b := sb.String()
	pgBound.Store(query, b)
	return b
}
