package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func events(n int, kind inbox.Kind) []inbox.Event {
	out := make([]inbox.Event, n)
	for i := range out {
		out[i] = inbox.Event{
			ID:        fmt.Sprintf("%s:%d", kind, 1000+i),
			ForUserID: "2244994945",
			Kind:      kind,
			Payload:   []byte(fmt.Sprintf(`{"id_str":"%d","text":"#BuyNow"}`, 1000+i)),
		}
	}
	return out
}

func TestMigrateIsIdempotent(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for i := 0; i < 2; i++ {
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrate run %d: %v", i+1, err)
			}
		}
		v, err := db.AppliedVersion(ctx)
		if err != nil || v != storage.SchemaVersion() {
			t.Fatalf("applied version = %d, %v; want %d", v, err, storage.SchemaVersion())
		}
	})
}

func TestInsertDeduplicatesByEventID(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		evs := events(50, inbox.KindTweetCreate)
		n, err := db.Inbox().InsertEvents(ctx, evs)
		if err != nil || n != 50 {
			t.Fatalf("first insert = %d, %v; want 50", n, err)
		}
		n, err = db.Inbox().InsertEvents(ctx, append(evs[:10:10], events(60, inbox.KindTweetCreate)[50:]...))
		if err != nil || n != 10 {
			t.Fatalf("second insert = %d, %v; want 10 new", n, err)
		}
		if got := db.CountForTest(ctx, "SELECT COUNT(*) FROM inbox_events"); got != 60 {
			t.Fatalf("rows = %d, want 60", got)
		}
		// A group commit larger than one INSERT statement: every row is
		// stored once, and the count of new ones spans the statements.
		n, err = db.Inbox().InsertEvents(ctx, events(300, inbox.KindTweetCreate))
		if err != nil || n != 240 {
			t.Fatalf("large insert = %d, %v; want 240 new", n, err)
		}
		if got := db.CountForTest(ctx, "SELECT COUNT(*) FROM inbox_events"); got != 300 {
			t.Fatalf("rows = %d, want 300", got)
		}
	})
}

func TestKindsNotActedOnAreStoredAndSkipped(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		evs := append(events(3, "favorite"), events(2, inbox.KindDirectMessage)...)
		if _, err := db.Inbox().InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		var handled []inbox.Kind
		_, err := db.Inbox().ProcessDue(ctx, 10, func(ctx context.Context, ev inbox.Event) error {
			handled = append(handled, ev.Kind)
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(handled) != 2 || handled[0] != inbox.KindDirectMessage {
			t.Fatalf("handled %v, want the 2 direct messages only", handled)
		}
		counts, _ := db.Inbox().Counts(ctx)
		if counts[inbox.StatusSkipped] != 3 || counts[inbox.StatusDone] != 2 {
			t.Fatalf("counts = %v, want 3 skipped and 2 done", counts)
		}
	})
}

func effectsTable(t *testing.T, db *storage.DB) {
	if err := db.ExecForTest(context.Background(), "CREATE TABLE test_effects (event_id TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
}

func recordEffect(db *storage.DB) func(ctx context.Context, ev inbox.Event) error {
	return func(ctx context.Context, ev inbox.Event) error {
		return db.ExecForTest(ctx, "INSERT INTO test_effects (event_id) VALUES (?)", ev.ID)
	}
}

// A crash between claiming and committing must leave the events pending and
// their effects undone, so the next claim processes each exactly once.
func TestInterruptedBatchIsRolledBackAndProcessedOnce(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		effectsTable(t, db)
		if _, err := db.Inbox().InsertEvents(ctx, events(20, inbox.KindTweetCreate)); err != nil {
			t.Fatal(err)
		}
		dying, die := context.WithCancel(ctx)
		seen := 0
		_, err := db.Inbox().ProcessDue(dying, 20, func(ctx context.Context, ev inbox.Event) error {
			if err := recordEffect(db)(ctx, ev); err != nil {
				return err
			}
			if seen++; seen == 10 {
				die()
				return ctx.Err()
			}
			return nil
		}, nil)
		if err == nil {
			t.Fatal("interrupted batch reported success")
		}
		// Whatever committed before the crash committed with its done mark
		// (a whole batch on both databases): effects and
		// done marks agree, and the interrupted event left nothing.
		effects := db.CountForTest(ctx, "SELECT COUNT(*) FROM test_effects")
		done := db.CountForTest(ctx, "SELECT COUNT(*) FROM inbox_events WHERE status = 'done'")
		if effects != done || effects >= 10 {
			t.Fatalf("after the crash: %d effects, %d done; want equal and under 10", effects, done)
		}
		total := 0
		for {
			n, err := db.Inbox().ProcessDue(ctx, 100, recordEffect(db), nil)
			if err != nil {
				t.Fatalf("reprocess: %v", err)
			}
			if n == 0 {
				break
			}
			total += n
		}
		if int64(total)+done != 20 {
			t.Fatalf("reprocessed %d events after %d were done, want 20 in all", total, done)
		}
		if got := db.CountForTest(ctx, "SELECT COUNT(*) FROM (SELECT event_id FROM test_effects GROUP BY event_id HAVING COUNT(*) = 1) x"); got != 20 {
			t.Fatalf("events with exactly one effect = %d, want 20", got)
		}
	})
}

func TestFailedHandlerUndoesItsEffectsAndRetriesLater(t *testing.T) {
	now := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	storagetest.Each(t, storagetest.Options{Now: clock}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		effectsTable(t, db)
		if _, err := db.Inbox().InsertEvents(ctx, events(3, inbox.KindTweetCreate)); err != nil {
			t.Fatal(err)
		}
		failing := "tweet_create:1001"
		handle := func(ctx context.Context, ev inbox.Event) error {
			if err := recordEffect(db)(ctx, ev); err != nil {
				return err
			}
			if ev.ID == failing {
				return errors.New("offer store unavailable")
			}
			return nil
		}
		var retried []int
		retry := func(ev inbox.Event, err error) (time.Time, bool) {
			retried = append(retried, ev.Attempts)
			return now.Add(time.Minute), ev.Attempts+1 >= 2
		}
		if n, err := db.Inbox().ProcessDue(ctx, 10, handle, retry); err != nil || n != 3 {
			t.Fatalf("first pass = %d, %v", n, err)
		}
		if got := db.CountForTest(ctx, "SELECT COUNT(*) FROM test_effects WHERE event_id = ?", failing); got != 0 {
			t.Fatalf("failed event left %d effects", got)
		}
		if n, _ := db.Inbox().ProcessDue(ctx, 10, handle, retry); n != 0 {
			t.Fatalf("retry ran %d events before it was due", n)
		}
		now = now.Add(time.Minute)
		if n, _ := db.Inbox().ProcessDue(ctx, 10, handle, retry); n != 1 {
			t.Fatalf("due retry claimed %d, want 1", n)
		}
		counts, _ := db.Inbox().Counts(ctx)
		if counts[inbox.StatusDead] != 1 || counts[inbox.StatusDone] != 2 {
			t.Fatalf("counts = %v, want 2 done and 1 dead after 2 attempts", counts)
		}
		if len(retried) != 2 || retried[0] != 0 || retried[1] != 1 {
			t.Fatalf("retry saw attempts %v, want [0 1]", retried)
		}
	})
}

// Deliveries sent twice, concurrently, through the group committer and
// several workers: every event stored once and processed once.
func TestConcurrentDuplicateDeliveriesStoredAndProcessedOnce(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		effectsTable(t, db)
		const total = 2000
		workers := &inbox.Workers{Store: db.Inbox(), Handler: inbox.HandlerFunc(recordEffect(db)), Count: 3, Batch: 50, Poll: 20 * time.Millisecond, Log: quiet}
		c := inbox.NewCommitter(db.Inbox(), 1000, workers.Wake, quiet)
		var bg sync.WaitGroup
		bg.Add(2)
		go func() { defer bg.Done(); c.Run(ctx) }()
		go func() { defer bg.Done(); workers.Run(ctx) }()

		evs := events(total, inbox.KindTweetCreate)
		var wg sync.WaitGroup
		errs := make(chan error, 2*total)
		for copy := 0; copy < 2; copy++ {
			for i := 0; i < total; i += 10 {
				wg.Add(1)
				go func(part []inbox.Event) {
					defer wg.Done()
					errs <- c.Submit(ctx, part)
				}(evs[i : i+10])
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for db.CountForTest(ctx, "SELECT COUNT(*) FROM inbox_events WHERE status = 'done'") < total {
			if time.Now().After(deadline) {
				t.Fatal("events not processed within 30s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		bg.Wait()
		if got := db.CountForTest(context.Background(), "SELECT COUNT(*) FROM inbox_events"); got != total {
			t.Fatalf("rows = %d, want %d", got, total)
		}
		if got := db.CountForTest(context.Background(), "SELECT COUNT(*) FROM test_effects"); got != total {
			t.Fatalf("effects = %d, want %d (each event processed once)", got, total)
		}
	})
}

// Times are stored on SQLite as text in the form earlier versions of
// hashcart wrote ("2006-01-02 15:04:05.999999999-07:00", UTC), which sorts
// in time order: databases written before the driver change read and
// compare the same.
func TestSQLiteStoresTimesInTheirEarlierTextForm(t *testing.T) {
	db := storagetest.Open(t, storage.DriverSQLite, storagetest.Options{})
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 10, 0, 0, 500_000_000, time.UTC)
	ev := events(2, inbox.KindTweetCreate)
	ev[0].ReceivedAt, ev[1].ReceivedAt = at, at.Add(time.Second)
	if _, err := db.Inbox().InsertEvents(ctx, ev); err != nil {
		t.Fatal(err)
	}
	for where, want := range map[string]int{
		"received_at = '2026-12-06 10:00:00.5+00:00'": 1,
		"received_at < '2026-12-06 10:00:01+00:00'":   1,
		"received_at > '2026-12-06 10:00:01+00:00'":   1,
	} {
		if n, err := db.Inbox().CountWhere(ctx, where); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", where, n, err, want)
		}
	}
}

// On SQLite, inbox processing commits without an fsync (its effects reach
// no one before a later durable commit); every other transaction,
// acknowledgements first, is fsync'd before InTx returns, and statements
// outside a transaction still run with synchronous=FULL.
func TestSQLiteProcessingCommitsUnsyncedAndEverythingElseSynced(t *testing.T) {
	db := storagetest.Open(t, storage.DriverSQLite, storagetest.Options{})
	ctx := context.Background()
	effectsTable(t, db)
	if _, err := db.Inbox().InsertEvents(ctx, events(3, inbox.KindTweetCreate)); err != nil {
		t.Fatal(err)
	}
	if committed, synced := db.WALForTest(); committed == 0 || synced != committed {
		t.Fatalf("after storing events: %d commits, %d synced; want all synced", committed, synced)
	}
	var inBatch []int
	n, err := db.Inbox().ProcessDue(ctx, 10, func(ctx context.Context, ev inbox.Event) error {
		mode, err := db.SyncModeForTest(ctx)
		if err != nil {
			return err
		}
		inBatch = append(inBatch, mode)
		return recordEffect(db)(ctx, ev)
	}, func(inbox.Event, error) (time.Time, bool) { return time.Time{}, true })
	if err != nil || n != 3 {
		t.Fatalf("processed %d (%v), want 3", n, err)
	}
	for _, mode := range inBatch {
		if mode != 1 {
			t.Fatalf("synchronous in the processing batch = %d, want 1 (NORMAL)", mode)
		}
	}
	committed, synced := db.WALForTest()
	if synced >= committed {
		t.Fatalf("after processing: %d commits, %d synced; want the batch not synced", committed, synced)
	}
	if got := db.CountForTest(ctx, "SELECT COUNT(*) FROM test_effects"); got != 3 {
		t.Fatalf("%d effects committed, want 3", got)
	}
	if done, _ := db.Inbox().CountWhere(ctx, "status = 'done'"); done != 3 {
		t.Fatalf("%d events done, want 3", done)
	}
	if err := db.InTx(ctx, func(ctx context.Context) error {
		return db.ExecForTest(ctx, "INSERT INTO test_effects (event_id) VALUES ('after')")
	}); err != nil {
		t.Fatal(err)
	}
	if committed, synced := db.WALForTest(); synced != committed {
		t.Fatalf("after a durable transaction: %d commits, %d synced; want all (the batch too)", committed, synced)
	}
	before, _ := db.WALForTest()
	if err := db.InTx(ctx, func(ctx context.Context) error {
		_, err := db.SyncModeForTest(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if after, _ := db.WALForTest(); after != before {
		t.Fatalf("a transaction that changed nothing counted as a commit to sync (%d -> %d)", before, after)
	}
	if mode, err := db.SyncModeForTest(ctx); err != nil || mode != 2 {
		t.Fatalf("writer outside a transaction: synchronous = %d (%v), want 2 (FULL)", mode, err)
	}
}

// On PostgreSQL, inbox processing commits asynchronously (no wait for its
// own WAL flush; the next synchronous commit flushes it), every other
// transaction synchronously.
func TestPostgresProcessingCommitsAsynchronously(t *testing.T) {
	db := storagetest.Open(t, storage.DriverPostgres, storagetest.Options{})
	ctx := context.Background()
	show := func(ctx context.Context) (v string, err error) {
		err = db.RawScanForTest(ctx, "SHOW synchronous_commit", &v)
		return v, err
	}
	if _, err := db.Inbox().InsertEvents(ctx, events(2, inbox.KindTweetCreate)); err != nil {
		t.Fatal(err)
	}
	var seen, timeouts []string
	n, err := db.Inbox().ProcessDue(ctx, 10, func(ctx context.Context, ev inbox.Event) error {
		v, err := show(ctx)
		seen = append(seen, v)
		var lt string
		if err == nil {
			err = db.RawScanForTest(ctx, "SHOW lock_timeout", &lt)
		}
		timeouts = append(timeouts, lt)
		return err
	}, func(inbox.Event, error) (time.Time, bool) { return time.Time{}, true })
	if err != nil || n != 2 {
		t.Fatalf("processed %d (%v), want 2", n, err)
	}
	for i, v := range seen {
		if v != "off" {
			t.Fatalf("synchronous_commit in processing = %q, want off", v)
		}
		// A batch gives up waiting for a lock early (it may be in a
		// deadlock with another batch) and runs its events singly.
		if timeouts[i] != "100ms" {
			t.Fatalf("lock_timeout in a batch = %q, want 100ms", timeouts[i])
		}
	}
	if err := db.InTx(ctx, func(ctx context.Context) error {
		v, err := show(ctx)
		if err == nil && v != "on" {
			err = fmt.Errorf("synchronous_commit in another transaction = %q, want on", v)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// On PostgreSQL two workers' batches that lock the same rows in opposite
// orders deadlock, and the server aborts one of them. Every event is still
// processed exactly once, and none is recorded as failed or put off.
func TestPostgresBatchesThatDeadlockProcessEveryEventOnce(t *testing.T) {
	db := storagetest.Open(t, storage.DriverPostgres, storagetest.Options{})
	ctx := context.Background()
	evs := lockingEvents(t, db, 4, "a", "b")
	// The first worker's batch is events 0 and 1 (rows a, then b), the
	// second's events 2 and 3 (b, then a). Each batch's first event waits,
	// the first time, until both first events hold their rows.
	lockOf := map[string]string{evs[0].ID: "a", evs[1].ID: "b", evs[2].ID: "b", evs[3].ID: "a"}
	var mu sync.Mutex
	firstRound := map[string]bool{evs[0].ID: true, evs[2].ID: true}
	holding := make(chan string, 2)
	oneHolds, bothHold := make(chan struct{}), make(chan struct{})
	go func() {
		<-holding
		close(oneHolds)
		<-holding
		close(bothHold)
	}()
	deadlocks := 0
	handle := func(ctx context.Context, ev inbox.Event) error {
		if err := db.ExecForTest(ctx, "SELECT k FROM test_locks WHERE k = ? FOR UPDATE", lockOf[ev.ID]); err != nil {
			mu.Lock()
			// A deadlock found by the server, or the batch's lock
			// timeout, which comes first.
			if strings.Contains(err.Error(), "40P01") || strings.Contains(err.Error(), "55P03") {
				deadlocks++
			}
			mu.Unlock()
			return err
		}
		mu.Lock()
		first := firstRound[ev.ID]
		delete(firstRound, ev.ID)
		mu.Unlock()
		if first {
			holding <- ev.ID
			select {
			case <-bothHold:
			case <-time.After(10 * time.Second):
				return errors.New("the other batch never took its first row")
			}
		}
		return recordEffect(db)(ctx, ev)
	}
	var retried []string
	retry := func(ev inbox.Event, err error) (time.Time, bool) {
		mu.Lock()
		retried = append(retried, ev.ID+": "+err.Error())
		mu.Unlock()
		return time.Now().Add(time.Hour), false
	}
	var wg sync.WaitGroup
	got := make([]int, 2)
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		got[0], errs[0] = db.Inbox().ProcessDue(ctx, 2, handle, retry)
	}()
	go func() {
		defer wg.Done()
		<-oneHolds // claims after the first worker holds events 0 and 1
		got[1], errs[1] = db.Inbox().ProcessDue(ctx, 2, handle, retry)
	}()
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || got[0]+got[1] != 4 {
		t.Fatalf("workers processed %v events, errors %v; want 4 in all, no error", got, errs)
	}
	if deadlocks == 0 {
		t.Fatal("the batches did not deadlock; the test did not test anything")
	}
	if len(retried) != 0 {
		t.Fatalf("events put off after the deadlock: %v", retried)
	}
	if n := db.CountForTest(ctx, "SELECT COUNT(*) FROM inbox_events WHERE status = 'done' AND last_error = ''"); n != 4 {
		t.Fatalf("%d of 4 events done without an error", n)
	}
	if n := db.CountForTest(ctx, "SELECT COUNT(*) FROM (SELECT event_id FROM test_effects GROUP BY event_id HAVING COUNT(*) = 1) x"); n != 4 {
		t.Fatalf("events with exactly one effect = %d, want 4", n)
	}
}

// A lock wait that times out while a batch reruns with savepoints (after
// another event's handler failed) is not that event's failure: the batch
// runs singly, the waiting event is processed once the lock is free, and
// only the failing event is put off.
func TestPostgresLockTimeoutInABatchIsNotAnEventFailure(t *testing.T) {
	db := storagetest.Open(t, storage.DriverPostgres, storagetest.Options{})
	ctx := context.Background()
	evs := lockingEvents(t, db, 3, "a")
	held, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	defer letGo()
	// Should the waiting event never be run singly, the lock still goes,
	// and the assertions below say what went wrong.
	time.AfterFunc(3*time.Second, letGo)
	holder := make(chan error, 1)
	go func() {
		holder <- db.InTx(ctx, func(ctx context.Context) error {
			if err := db.ExecForTest(ctx, "SELECT k FROM test_locks WHERE k = 'a' FOR UPDATE"); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	var mu sync.Mutex
	waits := 0
	handle := func(ctx context.Context, ev inbox.Event) error {
		switch ev.ID {
		case evs[0].ID:
			return errors.New("offer store unavailable")
		case evs[1].ID:
			mu.Lock()
			if waits++; waits == 2 {
				// Run singly now: let the lock go a little later.
				time.AfterFunc(50*time.Millisecond, letGo)
			}
			mu.Unlock()
			if err := db.ExecForTest(ctx, "SELECT k FROM test_locks WHERE k = 'a' FOR UPDATE"); err != nil {
				return err
			}
		}
		return recordEffect(db)(ctx, ev)
	}
	var retried []string
	retry := func(ev inbox.Event, err error) (time.Time, bool) {
		retried = append(retried, ev.ID)
		return time.Now().Add(time.Hour), false
	}
	n, err := db.Inbox().ProcessDue(ctx, 3, handle, retry)
	if err != nil || n != 3 {
		t.Fatalf("processed %d, %v; want 3", n, err)
	}
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	// The failing event may be reported once per run of the batch (the
	// batch ran twice before it ran singly); only it, and one attempt.
	for _, id := range retried {
		if id != evs[0].ID {
			t.Fatalf("put off: %v, want only %s", retried, evs[0].ID)
		}
	}
	if got := db.CountForTest(ctx, "SELECT COUNT(*) FROM inbox_events WHERE event_id = ? AND status = 'pending' AND attempts = 1 AND last_error <> ''", evs[0].ID); got != 1 {
		t.Fatalf("the failing event is not pending after one recorded attempt")
	}
	if got := db.CountForTest(ctx, "SELECT COUNT(*) FROM inbox_events WHERE status = 'done' AND last_error = '' AND attempts = 1"); got != 2 {
		t.Fatalf("%d events done at the first attempt, want 2", got)
	}
	if got := db.CountForTest(ctx, "SELECT COUNT(*) FROM test_effects"); got != 2 {
		t.Fatalf("%d effects, want 2", got)
	}
}

// lockingEvents prepares a lock test: the effects table, a table
// test_locks with one row per key for handlers to lock, and n stored
// events.
func lockingEvents(t *testing.T, db *storage.DB, n int, keys ...string) []inbox.Event {
	t.Helper()
	ctx := context.Background()
	effectsTable(t, db)
	rows := make([]string, len(keys))
	for i, k := range keys {
		rows[i] = "('" + k + "')"
	}
	if err := db.SeedForTest(ctx, "CREATE TABLE test_locks (k TEXT PRIMARY KEY)", "INSERT INTO test_locks VALUES "+strings.Join(rows, ", ")); err != nil {
		t.Fatal(err)
	}
	evs := events(n, inbox.KindTweetCreate)
	if _, err := db.Inbox().InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	return evs
}

// Events waiting out a retry backoff do not hold up new ones, however many
// they are: new events are processed in delivery order, and a retried
// event when its backoff ends. The claim reads only due events.
func TestEventsBackingOffDoNotHoldUpNewOnes(t *testing.T) {
	now := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	storagetest.Each(t, storagetest.Options{Now: clock}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.Inbox().InsertEvents(ctx, events(300, inbox.KindTweetCreate)); err != nil {
			t.Fatal(err)
		}
		var seen []string
		failing := true
		handle := func(ctx context.Context, ev inbox.Event) error {
			seen = append(seen, ev.ID)
			if failing {
				return errors.New("offer store unavailable")
			}
			return nil
		}
		retry := func(ev inbox.Event, err error) (time.Time, bool) { return now.Add(time.Minute), false }
		// drain runs passes (SQLite's hold at most 16 events) until one
		// finds nothing due.
		drain := func() (total int) {
			for {
				n, err := db.Inbox().ProcessDue(ctx, 500, handle, retry)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					return total
				}
				total += n
			}
		}
		if n := drain(); n != 300 {
			t.Fatalf("failing passes ran %d events, want 300", n)
		}
		failing = false
		now = now.Add(time.Second)
		fresh := []inbox.Event{{ID: "direct_message:1", ForUserID: "2244994945", Kind: inbox.KindDirectMessage, Payload: []byte(`{"id":"1"}`)},
			{ID: "direct_message:2", ForUserID: "2244994945", Kind: inbox.KindDirectMessage, Payload: []byte(`{"id":"2"}`)}}
		if _, err := db.Inbox().InsertEvents(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		seen = nil
		if n, err := db.Inbox().ProcessDue(ctx, 10, handle, retry); err != nil || n != 2 {
			t.Fatalf("pass with 300 events backing off = %d, %v; want the 2 new ones", n, err)
		}
		if !slices.Equal(seen, []string{"direct_message:1", "direct_message:2"}) {
			t.Errorf("processed %v, want the new events in delivery order", seen)
		}
		now = now.Add(time.Minute)
		seen = nil
		if n := drain(); n != 300 || seen[0] != "tweet_create:1000" {
			t.Errorf("after the backoff %d events ran, first %v; want the 300, in delivery order", n, seen[:min(len(seen), 1)])
		}
		plan := planOf(t, db, storage.InboxClaimSQL, now, int64(16))
		if !strings.Contains(plan, "inbox_events_due") || !strings.Contains(plan, "next_attempt_at <") && !strings.Contains(plan, "next_attempt_at<") {
			t.Errorf("claim plan:\n%s\nwant inbox_events_due bounded by next_attempt_at", plan)
		}
	})
}

// TestABacklogDrainsWithoutWaitingForPolls: after a burst, the events
// stored and not yet handled are worked off at once, not a batch per poll.
// (On SQLite a call of ProcessDue handled one batch of 16 whatever the
// limit, and the workers took that for the end of the backlog: after a
// drop's burst the rest went at 16 events per worker per poll, about 250
// a second, while shoppers waited for their links.)
func TestABacklogDrainsWithoutWaitingForPolls(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const n = 500
		if _, err := db.Inbox().InsertEvents(ctx, events(n, inbox.KindTweetCreate)); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		handled := 0
		all := make(chan struct{})
		w := &inbox.Workers{
			Store: db.Inbox(),
			Handler: inbox.HandlerFunc(func(ctx context.Context, ev inbox.Event) error {
				mu.Lock()
				defer mu.Unlock()
				if handled++; handled == n {
					close(all)
				}
				return nil
			}),
			Count: 1, Batch: 100,
			Poll: time.Hour, // a poll would come too late: only the backlog itself may keep the worker going
			Log:  quiet,
		}
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { w.Run(wctx); close(done) }()
		select {
		case <-all:
		case <-time.After(20 * time.Second):
		}
		// Run returns once the batch under way has committed.
		stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if handled != n {
			t.Fatalf("%d of %d stored events handled; the rest wait for a poll", handled, n)
		}
		if left, _ := db.Inbox().CountWhere(ctx, "status = 'pending'"); left != 0 {
			t.Fatalf("%d events still pending", left)
		}
	})
}

// TestHandlersGetEventsAsStored: what a worker hands the bot is what the
// webhook stored, field for field, on both databases.
func TestHandlersGetEventsAsStored(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		at := time.Date(2026, 12, 1, 17, 0, 0, 123456000, time.UTC)
		want := inbox.Event{ID: "tweet_create:42", ForUserID: "2244994945", Kind: inbox.KindTweetCreate,
			Payload: []byte(`{"id_str":"42","text":"#BuyNow ünïcode"}`), Users: []byte(`{"7":{"screen_name":"x"}}`), ReceivedAt: at}
		if _, err := db.Inbox().InsertEvents(ctx, []inbox.Event{want}); err != nil {
			t.Fatal(err)
		}
		var got []inbox.Event
		n, err := db.Inbox().ProcessDue(ctx, 10, func(ctx context.Context, ev inbox.Event) error {
			got = append(got, ev)
			return nil
		}, nil)
		if err != nil || n != 1 || len(got) != 1 {
			t.Fatalf("processed %d (%v), handed %d; want 1", n, err, len(got))
		}
		g := got[0]
		if g.Seq == 0 || g.ID != want.ID || g.ForUserID != want.ForUserID || g.Kind != want.Kind || string(g.Payload) != string(want.Payload) ||
			string(g.Users) != string(want.Users) || !g.ReceivedAt.Equal(at) || g.Attempts != 0 {
			t.Fatalf("handed %+v\nstored %+v", g, want)
		}
	})
}
