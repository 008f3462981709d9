package storage

import "context"

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
