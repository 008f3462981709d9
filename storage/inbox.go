package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashcart/hashcart/inbox"
)

// inboxRow is the inbox_events table.
type inboxRow struct {
	ID            int64
	EventID       string
	ForUserID     string
	Kind          string
	Payload       string
	Users         string
	Status        string
	Attempts      int
	LastError     string
	ReceivedAt    time.Time
	NextAttemptAt time.Time
	ProcessedAt   *time.Time
}

func (inboxRow) TableName() string { return "inbox_events" }

// Inbox implements inbox.Store.
type Inbox struct{ db *DB }

// Inbox returns the inbox store.
func (db *DB) Inbox() *Inbox { return &Inbox{db: db} }

var _ inbox.Store = (*Inbox)(nil)

const inboxInsertCols = 8

// InsertEvents implements inbox.Store with multi-row INSERT ... ON
// CONFLICT DO NOTHING statements in one transaction. (One statement per
// row was measured slower: each execution costs more than the longer
// parse.) On SQLite statements hold at most 64 rows: the driver binds each
// argument by scanning the argument list, so a statement costs O(args²); at
// 256 events a commit, 64-row statements took 30% less CPU than 500-row
// ones. PostgreSQL keeps 500-row statements (fewer round trips).
func (s *Inbox) InsertEvents(ctx context.Context, events []inbox.Event) (int, error) {
	now := s.db.Now()
	inserted := 0
	// Urgent: deliveries are waiting on this commit to be acknowledged.
	err := s.db.inTx(ctx, true, func(ctx context.Context) error {
		tx := s.db.write(ctx)
		chunk := 500 // rows a statement; each statement is a round trip on PostgreSQL
		if s.db.driver == DriverSQLite {
			chunk = 64
		}
		for start := 0; start < len(events); start += chunk {
			part := events[start:min(start+chunk, len(events))]
			var sb strings.Builder
			sb.WriteString("INSERT INTO inbox_events (event_id, for_user_id, kind, payload, users, status, attempts, received_at, next_attempt_at) VALUES ")
			args := make([]any, 0, len(part)*inboxInsertCols)
			for i, ev := range part {
				if i > 0 {
					sb.WriteString(",")
				}
				sb.WriteString("(?,?,?,?,?,?,0,?,?)")
				status := inbox.StatusPending
				if !ev.Kind.Actionable() {
					status = inbox.StatusSkipped
				}
				received := ev.ReceivedAt.UTC()
				if ev.ReceivedAt.IsZero() {
					received = now
				}
				args = append(args, ev.ID, ev.ForUserID, string(ev.Kind), string(ev.Payload), string(ev.Users), string(status), received, now)
			}
			sb.WriteString(" ON CONFLICT (event_id) DO NOTHING")
			res := tx.Exec(sb.String(), args...)
			if res.Error != nil {
				return res.Error
			}
			inserted += int(res.RowsAffected)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store %d inbox events: %w", len(events), err)
	}
	return inserted, nil
}

// ProcessDue implements inbox.Store. A failing handler undoes only its own
// effects (see processBatch).
//
// The events of a batch share one transaction, committed without waiting
// for durability (see inUnsyncedTx). On SQLite the single writer rules out
// lock cycles. On PostgreSQL handlers lock rows (a buyer, a stock counter)
// until their batch commits, so two workers can deadlock on each other; a
// batch that waits for a lock longer than batchLockTimeout (or that the
// server finds in a deadlock) is rolled back and run again one event a
// transaction, which cannot form a cycle with another batch's locks for
// longer than one event.
//
// Either way ProcessDue runs batches until limit events are handled or
// none is left due, so a worker goes on while a backlog lasts.
func (s *Inbox) ProcessDue(ctx context.Context, limit int, handle func(context.Context, inbox.Event) error,
	retry func(inbox.Event, error) (time.Time, bool)) (int, error) {
	batch := pgBatch
	if s.db.driver != DriverPostgres {
		// Short transactions, each through the write gate: between them
		// the webhook's commits take the single writer first.
		batch = sqliteBatch
	}
	n := 0
	for n < limit {
		size := min(batch, limit-n)
		got, more, err := s.processBatch(ctx, size, handle, retry)
		if isLockConflict(err) { // PostgreSQL only
			s.db.log.Info("inbox batch hit a lock conflict; running its events one a transaction", "err", err)
			got, more, err = 0, true, nil
			for got < size && more {
				var one int
				one, more, err = s.processBatch(ctx, 1, handle, retry)
				got += one
				if err != nil {
					break
				}
			}
		}
		n += got
		if err != nil || !more {
			return n, err
		}
	}
	return n, nil
}

// batchLockTimeout bounds how long a PostgreSQL batch waits for a row lock
// (a buyer, a stock counter) before it is run again one event a
// transaction. A batch holds its locks for a few milliseconds; two batches
// that deadlock (a buyer who replied twice, in both, during a limited
// drop: each holds the buyer or the stock counter the other waits for)
// would otherwise both stall until PostgreSQL's deadlock_timeout.
const batchLockTimeout = 100 * time.Millisecond

// pgBatch is how many events a PostgreSQL processing transaction handles.
// Each event costs a dozen round trips to the server; a batch shares the
// claim, the status update and the commit among its events. (On 2 cores
// with the server on the same machine the round trips, not the queries,
// were most of the CPU: one event a transaction processed 500-600 events/s.)
const pgBatch = 16

// sqliteBatch bounds a SQLite processing transaction, and so how long an
// acknowledgement can wait behind it.
const sqliteBatch = 16

// yieldAfter is how long a SQLite processing transaction runs before it
// commits early for a waiting delivery: long enough to process a few
// events per commit, short enough to keep acknowledgements fast. (Since
// statements are kept prepared an event takes ~0.1-0.3 ms here; 2 ms gave
// intake p99 13-37 ms at 5,000 events/s, 0.5 ms 7.8 ms. Measured again
// once processing had become cheaper, on a slower machine: 2 ms let
// processing keep up with 5,000 events/s, which 0.5 ms did not, at the
// same ack p99 but 20% less intake at the maximum rate. Which matters more
// is the planners' call; see bench/README.md, session 7.)
const yieldAfter = 500 * time.Microsecond

// processBatch claims up to limit due events and handles them in one
// transaction. The first attempt runs the handlers without savepoints: on
// SQLite a savepoint copies every page an event then writes to the
// statement journal (11% of the server's CPU in the pipeline benchmark),
// and handlers rarely fail. Should one fail, that attempt is rolled back
// whole and the batch runs again with a savepoint per event, so that only
// the failing event's effects are undone and its failure is recorded.
func (s *Inbox) processBatch(ctx context.Context, limit int, handle func(context.Context, inbox.Event) error,
	retry func(inbox.Event, error) (time.Time, bool)) (int, bool, error) {
	n, more, err := s.runBatch(ctx, limit, handle, retry, false)
	if errors.Is(err, errHandlerFailed) && limit > 1 && isLockConflict(err) {
		// Not the handler's fault: the caller runs the events singly.
		return 0, true, fmt.Errorf("process inbox: %w", err)
	}
	if errors.Is(err, errHandlerFailed) {
		n, more, err = s.runBatch(ctx, limit, handle, retry, true)
	}
	if err != nil {
		return 0, false, fmt.Errorf("process inbox: %w", err)
	}
	return n, more, nil
}

// errHandlerFailed rolls back a batch run without savepoints when one of
// its handlers fails.
var errHandlerFailed = errors.New("a handler failed")

// inboxClaimSQL takes due events in the order they became due: delivery
// order for new events (their next attempt is their commit's time), and a
// retried event when its backoff ends. It reads only due events
// (inbox_events_due), however many wait out a backoff, and only the
// columns a handler needs. Arguments: now, a limit.
const inboxClaimSQL = `SELECT id, event_id, for_user_id, kind, payload, users, attempts, received_at FROM inbox_events
WHERE status = 'pending' AND next_attempt_at <= ?
ORDER BY next_attempt_at, id LIMIT ?`

// claimDue reads up to limit due events (inboxClaimSQL), scanned
// straight into events: through GORM's reflection the scan cost more CPU
// than the query.
func (s *Inbox) claimDue(ctx context.Context, now time.Time, limit int) ([]inbox.Event, error) {
	rows, err := s.db.query(ctx, inboxClaimSQL+s.db.forUpdate(), now, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	events := make([]inbox.Event, 0, limit)
	for rows.Next() {
		var ev inbox.Event
		var kind string
		var payload, users []byte
		if err := rows.Scan(&ev.Seq, &ev.ID, &ev.ForUserID, &kind, &payload, &users, &ev.Attempts, &ev.ReceivedAt); err != nil {
			return nil, err
		}
		ev.Kind, ev.Payload, ev.Users = inbox.Kind(kind), payload, users
		events = append(events, ev)
	}
	return events, rows.Err()
}

// runBatch claims up to limit due events and handles them in one
// transaction. It reports how many it handled, and whether more may be
// due: it claimed as many as it asked for, or made way for a waiting
// delivery before handling them all.
func (s *Inbox) runBatch(ctx context.Context, limit int, handle func(context.Context, inbox.Event) error,
	retry func(inbox.Event, error) (time.Time, bool), savepoints bool) (int, bool, error) {
	claimed := 0
	more := false
	// Unsynced: what a batch writes (holds, outbox messages) reaches no one
	// outside before a later synced commit (see inUnsyncedTx).
	var lockTimeout time.Duration
	if limit > 1 {
		// A batch that waits long for a lock is probably in a deadlock
		// with another batch (PostgreSQL would tell only after
		// deadlock_timeout, a second by default): give up after
		// batchLockTimeout and run the events one a transaction.
		lockTimeout = batchLockTimeout
	}
	err := s.db.inUnsyncedTx(ctx, lockTimeout, func(ctx context.Context) error {
		tx := s.db.write(ctx)
		now := s.db.Now()
		events, err := s.claimDue(ctx, now, limit)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		var done []int64
		started := time.Now()
		more = len(events) == limit
		for i, ev := range events {
			if i > 0 && s.db.gate != nil && time.Since(started) > yieldAfter && s.db.gate.urgentWaiting() {
				// A delivery waits to be acknowledged: commit what is done.
				// The rest stays pending (on SQLite the claim is this
				// transaction, nothing else to undo).
				more = true
				break
			}
			claimed++
			var sp string
			if savepoints {
				sp = fmt.Sprintf("ev%d", i)
				if err := tx.SavePoint(sp).Error; err != nil {
					return err
				}
			}
			herr := handle(ctx, ev)
			if herr == nil {
				if savepoints {
					// Released, a savepoint stops costing: pages first
					// written under an open one are copied to the
					// statement journal, and open ones nest.
					if err := tx.Exec("RELEASE SAVEPOINT " + sp).Error; err != nil {
						return err
					}
				}
				done = append(done, ev.Seq)
				continue
			}
			if errors.Is(herr, context.Canceled) && ctx.Err() != nil {
				return herr
			}
			if !savepoints || (limit > 1 && isLockConflict(herr)) {
				// Without savepoints the batch runs again with them; a
				// lock conflict is not the event's failure either way:
				// the caller runs the batch's events singly.
				return fmt.Errorf("%w: event %s: %w", errHandlerFailed, ev.ID, herr)
			}
			if err := tx.RollbackTo(sp).Error; err != nil {
				return err
			}
			if err := tx.Exec("RELEASE SAVEPOINT " + sp).Error; err != nil {
				return err
			}
			next, dead := retry(ev, herr)
			status := inbox.StatusPending
			if dead {
				status, next = inbox.StatusDead, now
			}
			msg := herr.Error()
			if len(msg) > 1000 {
				msg = msg[:1000]
			}
			err = tx.Exec(`UPDATE inbox_events SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?`,
				string(status), msg, next.UTC(), ev.Seq).Error
			if err != nil {
				return err
			}
		}
		if len(done) == 0 {
			return nil
		}
		return tx.Exec(`UPDATE inbox_events SET status = 'done', attempts = attempts + 1, last_error = '', processed_at = ? WHERE id IN ?`,
			s.db.Now(), done).Error
	})
	if err != nil {
		return 0, false, err
	}
	return claimed, more, nil
}

// Counts returns how many events are in each status.
func (s *Inbox) Counts(ctx context.Context) (map[inbox.Status]int, error) {
	var rows []struct {
		Status string
		N      int
	}
	if err := s.db.read(ctx).Raw(`SELECT status, COUNT(*) AS n FROM inbox_events GROUP BY status`).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count inbox: %w", err)
	}
	out := map[inbox.Status]int{}
	for _, r := range rows {
		out[inbox.Status(r.Status)] = r.N
	}
	return out, nil
}

// CountWhere counts inbox rows matching a fixed SQL condition; tests and
// operator tooling use it. where must not contain user input.
func (s *Inbox) CountWhere(ctx context.Context, where string) (int, error) {
	var n int64
	if err := s.db.read(ctx).Raw("SELECT COUNT(*) FROM inbox_events WHERE " + where).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("count inbox: %w", err)
	}
	return int(n), nil
}
