package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"

	moderncsqlite "modernc.org/sqlite"
)

// openSQLite opens a pool of SQLite connections whose statements are
// prepared once per connection and kept (see stmtCacheConn).
func openSQLite(dsn string) *sql.DB {
	return sql.OpenDB(&sqliteConnector{dsn: dsn, drv: &moderncsqlite.Driver{}})
}

// sqliteConnector opens modernc.org/sqlite connections wrapped in a
// statement cache.
type sqliteConnector struct {
	dsn string
	drv *moderncsqlite.Driver
}

func (c *sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &stmtCacheConn{conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c *sqliteConnector) Driver() driver.Driver { return c.drv }

// stmtCacheMax bounds the statements one connection keeps. hashcart's SQL
// is a few hundred fixed strings; queries built with a variable number of
// placeholders (IN lists, multi-row INSERTs) add a few shapes each.
const stmtCacheMax = 512

// stmtCacheConn is a SQLite connection that keeps each statement it runs
// prepared, keyed by its SQL text, and runs it again with new arguments.
// The driver otherwise parses and plans the SQL at every execution: 20-26%
// of the server's CPU in the pipeline benchmark, all of it on SQLite's one
// writer. A statement whose rows are still being read is not shared: a
// second use meanwhile gets a statement of its own. SQLite re-prepares a
// kept statement by itself when the schema changes.
type stmtCacheConn struct {
	conn  driver.Conn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	stmt driver.Stmt
	busy bool // rows of it are open
}

var (
	_ driver.Conn               = (*stmtCacheConn)(nil)
	_ driver.ConnBeginTx        = (*stmtCacheConn)(nil)
	_ driver.ConnPrepareContext = (*stmtCacheConn)(nil)
	_ driver.ExecerContext      = (*stmtCacheConn)(nil)
	_ driver.QueryerContext     = (*stmtCacheConn)(nil)
	_ driver.Pinger             = (*stmtCacheConn)(nil)
	_ driver.SessionResetter    = (*stmtCacheConn)(nil)
	_ driver.Validator          = (*stmtCacheConn)(nil)
)

// stmt returns the kept statement for query, preparing it the first time;
// fresh is set when the kept one is in use and a one-off was prepared.
func (c *stmtCacheConn) stmt(ctx context.Context, query string) (cs *cachedStmt, fresh bool, err error) {
	kept, ok := c.stmts[query]
	if ok && !kept.busy {
		return kept, false, nil
	}
	s, err := c.conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	if ok {
		return &cachedStmt{stmt: s}, true, nil
	}
	if len(c.stmts) >= stmtCacheMax {
		c.evictIdle()
	}
	cs = &cachedStmt{stmt: s}
	c.stmts[query] = cs
	return cs, false, nil
}

// evictIdle closes every kept statement not in use: simpler than an LRU,
// and a full cache means an unusual workload.
func (c *stmtCacheConn) evictIdle() {
	for q, cs := range c.stmts {
		if !cs.busy {
			_ = cs.stmt.Close()
			delete(c.stmts, q)
		}
	}
}

func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, fresh, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if fresh {
		defer cs.stmt.Close()
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, fresh, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		if fresh {
			_ = cs.stmt.Close()
		}
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs, fresh: fresh}, nil
}

func (c *stmtCacheConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }

func (c *stmtCacheConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *stmtCacheConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *stmtCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *stmtCacheConn) Ping(ctx context.Context) error {
	return c.conn.(driver.Pinger).Ping(ctx)
}

func (c *stmtCacheConn) ResetSession(ctx context.Context) error {
	return c.conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *stmtCacheConn) IsValid() bool { return c.conn.(driver.Validator).IsValid() }

// Close finalizes the kept statements, then closes the connection.
func (c *stmtCacheConn) Close() error {
	var errs []error
	for q, cs := range c.stmts {
		errs = append(errs, cs.stmt.Close())
		delete(c.stmts, q)
	}
	errs = append(errs, c.conn.Close())
	return errors.Join(errs...)
}

// cachedRows gives its statement back when closed. It passes the column
// type methods through (GORM reads them to scan).
type cachedRows struct {
	driver.Rows
	cs    *cachedStmt
	fresh bool
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.fresh {
		return errors.Join(err, r.cs.stmt.Close())
	}
	r.cs.busy = false
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
