package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Drivers hashcart can store its data with.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Options tunes Open.
type Options struct {
	// MaxOpenConns bounds the connections used for reads (and, on
	// PostgreSQL, for writes). SQLite always writes through one connection.
	MaxOpenConns int
	// Now is the clock used for timestamps; time.Now when nil. Times are
	// stored in UTC.
	Now func() time.Time
	// Logger receives slow-query and error logs; slog.Default when nil.
	Logger *slog.Logger
	// Sealer encrypts personal data (addresses, contacts) before it is
	// written; storing such data fails without one.
	Sealer Sealer
}

// Sealer encrypts and decrypts personal data. aad binds a sealed value to
// its place (a buyer, an order), so it cannot be moved to another row.
// vault.Keyring implements it.
type Sealer interface {
	Seal(plaintext []byte, aad string) (string, error)
	Open(sealed string, aad string) ([]byte, error)
}

// DB is an open hashcart database. It is safe for concurrent use.
type DB struct {
	driver string
	// w runs writes and transactions. On SQLite it is a single connection:
	// SQLite has one writer at a time, and queueing in Go is cheaper than
	// SQLite's busy-retry loop.
	w *gorm.DB
	// r runs reads outside transactions. On SQLite it is a separate,
	// query-only pool so readers never wait for the writer (WAL mode).
	r *gorm.DB
	// gate orders transactions on SQLite's single writer; nil on PostgreSQL.
	gate *writeGate
	// wal syncs SQLite's WAL file after commits; nil on PostgreSQL, for
	// an in-memory database, or when the journal is not a WAL.
	wal    *walSyncer
	now    func() time.Time
	log    *slog.Logger
	sealer Sealer
	// wake holds what to call after a transaction that enqueued work of
	// each kind has committed (OnEnqueued).
	wake [numWorkKinds]func()
}

// WorkKind names work that a transaction enqueues for a worker that
// waits for it.
type WorkKind int

const (
	// OutboxWork is an outbox message to send (not one collapsed at once).
	OutboxWork WorkKind = iota
	// TaskWork is a payment provider task.
	TaskWork
	numWorkKinds
)

// OnEnqueued sets what to call once a transaction that enqueued work of
// kind has committed: the worker's wake-up. Set it before the database is
// used.
func (db *DB) OnEnqueued(kind WorkKind, fn func()) { db.wake[kind] = fn }

// txNotes is the work a transaction enqueued; its workers are woken once it
// commits (afterCommit).
type txNotes struct {
	enqueued [numWorkKinds]bool
}

type notesKey struct{}

// withNotes starts the notes of a new transaction.
func withNotes(ctx context.Context) (context.Context, *txNotes) {
	n := &txNotes{}
	return context.WithValue(ctx, notesKey{}, n), n
}

// noteEnqueued records that the transaction in ctx enqueued work of kind.
func (db *DB) noteEnqueued(ctx context.Context, kind WorkKind) {
	if n, ok := ctx.Value(notesKey{}).(*txNotes); ok {
		n.enqueued[kind] = true
	} else if fn := db.wake[kind]; fn != nil {
		fn()
	}
}

// afterCommit wakes the workers of the work a committed transaction
// enqueued.
func (db *DB) afterCommit(n *txNotes) {
	for kind, enqueued := range n.enqueued {
		if fn := db.wake[kind]; enqueued && fn != nil {
			fn()
		}
	}
}

// Open connects to the database named by driver and dsn. It does not
// migrate; call Migrate.
//
// On SQLite the database runs in WAL mode. InTx returns once its commit
// is fsync'd (walSyncer: the fsync runs after the writer is released);
// statements outside a transaction run with synchronous=FULL.
func Open(ctx context.Context, driver, dsn string, opts Options) (*DB, error) {
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	gcfg := &gorm.Config{
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return opts.Now().UTC() },
	}
	db := &DB{driver: driver, now: opts.Now, log: opts.Logger, sealer: opts.Sealer}
	switch driver {
	case DriverSQLite:
		w, err := gorm.Open(sqliteDialector{sqlite.New(sqlite.Config{Conn: openSQLite(sqliteDSN(dsn, false))}).(*sqlite.Dialector)}, gcfg)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %q: %w", dsn, err)
		}
		wsql, err := w.DB()
		if err != nil {
			return nil, err
		}
		wsql.SetMaxOpenConns(1)
		wsql.SetMaxIdleConns(1)
		wsql.SetConnMaxLifetime(0)
		wsql.SetConnMaxIdleTime(0)
		db.w, db.r = w, w
		db.gate = newWriteGate()
		if !isMemory(dsn) {
			// Readers get a pool of their own (WAL: they never wait for
			// the writer). Both pools keep their prepared statements per
			// connection (openSQLite); GORM's own statement cache is not
			// used: it prepares on the pool, which deadlocks a transaction
			// holding SQLite's only writer connection.
			r, err := gorm.Open(sqliteDialector{sqlite.New(sqlite.Config{Conn: openSQLite(sqliteDSN(dsn, true))}).(*sqlite.Dialector)}, gcfg)
			if err != nil {
				return nil, fmt.Errorf("open sqlite %q for reading: %w", dsn, err)
			}
			rsql, err := r.DB()
			if err != nil {
				return nil, err
			}
			rsql.SetMaxOpenConns(opts.MaxOpenConns)
			rsql.SetMaxIdleConns(opts.MaxOpenConns)
			db.r = r
		}
	case DriverPostgres:
		g, err := gorm.Open(postgresDialector{postgres.New(postgres.Config{DSN: dsn}).(*postgres.Dialector)}, gcfg)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		sqldb, err := g.DB()
		if err != nil {
			return nil, err
		}
		sqldb.SetMaxOpenConns(opts.MaxOpenConns)
		sqldb.SetMaxIdleConns(opts.MaxOpenConns)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		db.w, db.r = g, g
	default:
		return nil, fmt.Errorf("storage driver %q: %w", driver, ErrUnknownDriver)
	}
	if err := db.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	if driver == DriverSQLite && !isMemory(dsn) {
		if err := db.useWALSync(ctx); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return db, nil
}

// useWALSync sets up walSyncer when the database file is in WAL mode.
func (db *DB) useWALSync(ctx context.Context) error {
	var mode string
	if err := db.w.WithContext(ctx).Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil {
		return fmt.Errorf("sqlite journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		db.log.Warn("sqlite: not in WAL mode; every commit is fsync'd while it holds the writer", "journal_mode", mode)
		return nil
	}
	var files []struct {
		Name string
		File string
	}
	if err := db.w.WithContext(ctx).Raw("PRAGMA database_list").Scan(&files).Error; err != nil {
		return fmt.Errorf("sqlite database file: %w", err)
	}
	for _, f := range files {
		if f.Name == "main" && f.File != "" {
			db.wal = &walSyncer{path: f.File + "-wal"}
			return nil
		}
	}
	return fmt.Errorf("sqlite: no file for the main database")
}

// sqliteDialector and postgresDialector are the drivers' dialects with an
// Explain that returns the statement as it is, without its values. GORM's
// Scan records each statement for the logger, formatting the values into
// it whether anything logs it or not (hashcart's GORM logger discards
// everything): 1.7% of the server's CPU in the intake benchmark. Statements
// are logged, when they are, by hashcart itself, never with their values.
type sqliteDialector struct{ *sqlite.Dialector }

func (sqliteDialector) Explain(sql string, _ ...any) string { return sql }

type postgresDialector struct{ *postgres.Dialector }

func (postgresDialector) Explain(sql string, _ ...any) string { return sql }

// ErrUnknownDriver is returned by Open for a driver other than sqlite or postgres.
var ErrUnknownDriver = errors.New("unknown driver (use sqlite or postgres)")

// sqliteDSN adds the pragmas hashcart relies on to a file name or file: URI.
func sqliteDSN(dsn string, readOnly bool) string {
	params := url.Values{}
	params.Add("_pragma", "busy_timeout(10000)")
	params.Add("_pragma", "foreign_keys(1)")
	if !isMemory(dsn) {
		params.Add("_pragma", "journal_mode(WAL)")
	}
	// FULL for statements outside a transaction: the WAL is fsync'd at
	// their commit. Transactions switch to NORMAL and are fsync'd after
	// they release the writer (sqliteTx, walSyncer), or not at all for
	// inbox processing (inUnsyncedTx).
	params.Add("_pragma", "synchronous(FULL)")
	// Statement journals (what a savepoint or a failing statement rolls
	// back to) and temporary tables stay in memory: on disk, a batch of
	// events under savepoints opened, wrote and closed a temporary file at
	// every commit. Nothing durable lives there.
	params.Add("_pragma", "temp_store(MEMORY)")
	// Times are written as "2006-01-02 15:04:05.999999999-07:00" (UTC):
	// they sort as text in time order, and databases written by earlier
	// versions of hashcart use the same form.
	params.Set("_time_format", "sqlite")
	if readOnly {
		params.Add("_pragma", "query_only(1)")
	} else {
		params.Set("_txlock", "immediate")
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + params.Encode()
}

func isMemory(dsn string) bool {
	return strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory")
}

// Driver names the database in use: DriverSQLite or DriverPostgres.
func (db *DB) Driver() string { return db.driver }

// Now returns the store's clock reading in UTC.
func (db *DB) Now() time.Time { return db.now().UTC() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	sqldb, err := db.w.DB()
	if err != nil {
		return err
	}
	if err := sqldb.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", db.driver, err)
	}
	return nil
}

// Close closes every pool.
func (db *DB) Close() error {
	var errs []error
	if db.wal != nil {
		errs = append(errs, db.wal.close())
	}
	for _, g := range []*gorm.DB{db.w, db.r} {
		if g == nil {
			continue
		}
		if sqldb, err := g.DB(); err == nil {
			errs = append(errs, sqldb.Close())
		}
		if db.r == db.w {
			break
		}
	}
	return errors.Join(errs...)
}

type txKey struct{}

// InTx runs fn in one transaction. Store methods called with the context fn
// receives join that transaction. If fn returns an error or panics, the
// transaction is rolled back; otherwise it is committed. A nested InTx joins
// the outer transaction.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.inTx(ctx, false, fn)
}

// inTx is InTx; urgent transactions go before others on SQLite's writer.
func (db *DB) inTx(ctx context.Context, urgent bool, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(ctx)
	}
	ctx, notes := withNotes(ctx)
	if err := db.runTx(ctx, urgent, fn); err != nil {
		return err
	}
	db.afterCommit(notes)
	return nil
}

// runTx is inTx for a transaction that is not nested.
func (db *DB) runTx(ctx context.Context, urgent bool, fn func(ctx context.Context) error) error {
	if db.wal != nil {
		// Committed without fsync, then synced once the writer is free.
		n, err := db.sqliteTx(ctx, urgent, fn)
		if err != nil {
			return err
		}
		return db.wal.sync(ctx, n)
	}
	if db.gate != nil {
		db.gate.lock(urgent)
		defer db.gate.unlock()
	}
	return db.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
}

// inUnsyncedTx is InTx for work whose effects nobody outside this process
// sees before a later durable commit: on SQLite its commit is not fsync'd
// at all. In WAL mode its frames precede those of every later commit, so
// the next durable one (an acknowledgement, or the outbox claim that comes
// before any message is sent) makes it durable too; a process crash loses
// nothing, and a power cut can only undo it together with everything that
// came after it, which then runs again. Inbox processing uses it: it
// committed up to a thousand times a second, an fsync each.
//
// lockTimeout, when positive, bounds each wait for a row lock on
// PostgreSQL (lock_timeout): a statement that waits longer fails with a
// lock conflict (isLockConflict).
func (db *DB) inUnsyncedTx(ctx context.Context, lockTimeout time.Duration, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(ctx)
	}
	if db.driver == DriverPostgres {
		// The same on PostgreSQL: the commit does not wait for its WAL
		// flush; a later synchronous commit flushes the WAL up to its own
		// record, which follows this one.
		set := "SET LOCAL synchronous_commit = off"
		if lockTimeout > 0 {
			// No arguments: pgx sends it with the simple protocol, both
			// statements in one round trip.
			set += fmt.Sprintf("; SET LOCAL lock_timeout = '%dms'", lockTimeout.Milliseconds())
		}
		return db.inTx(ctx, false, func(ctx context.Context) error {
			if err := db.write(ctx).Exec(set).Error; err != nil {
				return err
			}
			return fn(ctx)
		})
	}
	if db.wal == nil {
		return db.inTx(ctx, false, fn)
	}
	ctx, notes := withNotes(ctx)
	if _, err := db.sqliteTx(ctx, false, fn); err != nil {
		return err
	}
	db.afterCommit(notes)
	return nil
}

// sqliteTx runs fn in a transaction on SQLite's writer with
// synchronous=NORMAL (no fsync at commit; see walSyncer) and returns the
// commit's number for walSyncer.sync.
func (db *DB) sqliteTx(ctx context.Context, urgent bool, fn func(ctx context.Context) error) (uint64, error) {
	db.gate.lock(urgent)
	defer db.gate.unlock()
	sqldb, err := db.w.DB()
	if err != nil {
		return 0, err
	}
	// One connection for the pragma, the transaction and the restore, so
	// that no other statement runs unsynced in between.
	conn, err := sqldb.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		db.restoreSync(conn)
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer db.restoreSync(conn)
	g := db.w.WithContext(ctx)
	g.Statement.ConnPool = conn
	err = g.Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
	if err != nil {
		return 0, err
	}
	// Rows changed on the writer since the last transaction's end: none
	// means nothing reached the WAL and there is nothing to sync. (The
	// count is the connection's since it opened; a new connection, or a
	// statement outside a transaction in between, shows as a change, and
	// the commit is synced anyway.)
	total, err := totalChanges(context.WithoutCancel(ctx), conn)
	changed := err != nil || total != db.wal.lastTotal
	db.wal.lastTotal = total
	if !changed {
		return 0, nil
	}
	return db.wal.commit(), nil
}

// totalChanges is the number of rows the connection has inserted, updated
// or deleted since it opened.
func totalChanges(ctx context.Context, conn *sql.Conn) (n int64, err error) {
	err = conn.QueryRowContext(ctx, "SELECT total_changes()").Scan(&n)
	return n, err
}

// restoreSync puts the writer connection back to synchronous=FULL, which
// statements outside a transaction rely on; if that fails the connection is
// discarded (a new one opens with FULL).
func (db *DB) restoreSync(conn *sql.Conn) {
	if _, err := conn.ExecContext(context.Background(), "PRAGMA synchronous = FULL"); err != nil {
		db.log.Error("sqlite: restoring synchronous=FULL failed; dropping the connection", "err", err)
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// write returns the transaction in ctx, or the writer pool.
func (db *DB) write(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return db.w.WithContext(ctx)
}

// read returns the transaction in ctx, or the reader pool.
func (db *DB) read(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return db.r.WithContext(ctx)
}

// forUpdate is the row-claiming suffix: on PostgreSQL rows are locked and
// rows locked by another instance are skipped; SQLite has a single writer,
// and the immediate transaction already excludes every other one.
func (db *DB) forUpdate() string {
	if db.driver == DriverPostgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// isLockConflict reports whether err is PostgreSQL aborting a transaction
// over locks (deadlock detected, serialization failure, lock not
// available): running the same work again, in smaller transactions,
// succeeds.
func isLockConflict(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40P01", "40001", "55P03":
		return true
	}
	return false
}

// customPlans makes PostgreSQL plan the rest of the transaction's queries
// for their actual parameters, every time. Statements are kept prepared,
// and after five runs PostgreSQL may settle on a generic plan made with
// the statistics of the moment; for the reminder queries, a plan made
// while carts and orders were being filled walked every hold and order of
// the merchant for each candidate (2-3 s a batch of 20, minutes a tick).
// Planning costs about a millisecond a query, so it is for queries like
// those, not for every statement.
func (db *DB) customPlans(ctx context.Context) error {
	if db.driver != DriverPostgres {
		return nil
	}
	if err := db.write(ctx).Exec("SET LOCAL plan_cache_mode = force_custom_plan").Error; err != nil {
		return fmt.Errorf("plan_cache_mode: %w", err)
	}
	return nil
}

// forUpdateWait locks the selected rows until the transaction ends, waiting
// for other holders (PostgreSQL); SQLite's single writer already excludes
// every other transaction.
func (db *DB) forUpdateWait() string {
	if db.driver == DriverPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// forUpdateOf is forUpdate for a query that joins: only the rows of alias
// are locked (PostgreSQL), the joined rows are read as usual.
func (db *DB) forUpdateOf(alias string) string {
	if db.driver == DriverPostgres {
		return " FOR UPDATE OF " + alias + " SKIP LOCKED"
	}
	return ""
}

// InTxForTest reports whether ctx carries a transaction, so tests can show
// that a network call runs outside one.
func InTxForTest(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*gorm.DB)
	return ok
}
