package storage

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// ExecForTest runs a statement in ctx's transaction or on the writer; tests
// use it to record handler effects next to the rows under test.
func (db *DB) ExecForTest(ctx context.Context, sql string, args ...any) error {
	return db.write(ctx).Exec(sql, args...).Error
}

// CountForTest runs a COUNT query.
func (db *DB) CountForTest(ctx context.Context, sql string, args ...any) (n int64) {
	_ = db.read(ctx).Raw(sql, args...).Scan(&n).Error
	return n
}

// SeedForTest runs seeding statements directly on the writer.
func (db *DB) SeedForTest(ctx context.Context, sqls ...string) error {
	for _, q := range sqls {
		if err := db.w.WithContext(ctx).Exec(db.dialectSQL(q)).Error; err != nil {
			return err
		}
	}
	return nil
}

// ExplainForTest returns the plan of a query, one line per row.
func (db *DB) ExplainForTest(ctx context.Context, q string, args ...any) string {
	prefix := "EXPLAIN QUERY PLAN "
	if db.driver == DriverPostgres {
		prefix = "EXPLAIN "
	}
	rows, err := db.r.WithContext(ctx).Raw(prefix+q, args...).Rows()
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		out = append(out, fmt.Sprint(vals[len(vals)-1]))
	}
	return strings.Join(out, "\n")
}

// SyncModeForTest reads PRAGMA synchronous (1 NORMAL, 2 FULL) in ctx's
// transaction, or on the writer connection.
func (db *DB) SyncModeForTest(ctx context.Context) (mode int, err error) {
	err = db.write(ctx).Raw("PRAGMA synchronous").Scan(&mode).Error
	return mode, err
}

// WALForTest reports how many commits have returned and how many of them
// are known to be fsync'd (SQLite file databases; zeros otherwise).
func (db *DB) WALForTest() (committed, synced uint64) {
	if db.wal == nil {
		return 0, 0
	}
	db.wal.mu.Lock()
	defer db.wal.mu.Unlock()
	return db.wal.committed.Load(), db.wal.synced
}

// RawScanForTest runs a query in ctx's transaction (or on the writer) and
// scans its single value into dest.
func (db *DB) RawScanForTest(ctx context.Context, sql string, dest any) error {
	return db.write(ctx).Raw(sql).Scan(dest).Error
}

func writeTestFile(path string) error { return os.WriteFile(path, []byte("wal"), 0o600) }

// LinesForTest runs a query in ctx's transaction (or on the writer) and
// returns the first column of each row.
func (db *DB) LinesForTest(ctx context.Context, sql string) ([]string, error) {
	var out []string
	err := db.write(ctx).Raw(sql).Scan(&out).Error
	return out, err
}

// Group queries of the outbox, for plan tests.
const (
	GroupCollapsedSQL = groupCollapsedSQL
	GroupCountsSQL    = groupCountsSQL
	GroupMembersSQL   = groupMembersSQL
)

// The outbox's due queries, for plan tests.
const (
	LapsedSQL            = lapsedSQL
	DueSQL               = dueSQL
	WaitingPrioritiesSQL = waitingPrioritiesSQL
)

// InboxClaimSQL is the inbox's claim query, for plan tests.
const InboxClaimSQL = inboxClaimSQL

// OldestWaitingSQL is the outbox expiry's query, for plan tests.
const OldestWaitingSQL = oldestWaitingSQL
