package storage

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// walSyncer makes SQLite commits durable after they have left the writer.
//
// SQLite's writer runs its transactions with synchronous=NORMAL: a commit
// appends its frames to the WAL file and returns without fsync. In WAL
// mode that is exactly synchronous=FULL minus the fsync at the end of the
// commit, so one fsync of the WAL file, started after a commit returned,
// makes that commit (and every one before it) as durable as FULL would
// have. Done here, after the writer is released, the fsync no longer holds
// up every other transaction: at 1,000 deliveries a second the writer
// spent a third of its time waiting on the disk.
//
// Callers that waited for the same fsync share it: a caller whose commit
// an fsync started after has covered returns at once.
type walSyncer struct {
	path      string
	committed atomic.Uint64 // commits that have returned, numbered in order
	// lastTotal is the writer's total_changes() at the end of the last
	// transaction (read and written under the write gate).
	lastTotal int64

	mu     sync.Mutex
	f      *os.File
	synced uint64 // every commit numbered up to this is on disk
	// failed is the first fsync error. After it nothing is known durable
	// any more (Linux reports a failed writeback once, and a later fsync
	// may succeed without the lost pages), so every later sync fails too,
	// until the process restarts and SQLite recovers from what is on disk.
	failed error
}

// commit numbers a commit that has just returned.
func (w *walSyncer) commit() uint64 { return w.committed.Add(1) }

// sync returns once commit n is on disk.
func (w *walSyncer) sync(ctx context.Context, n uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return w.failed
	}
	if w.synced >= n {
		return nil
	}
	upTo := w.committed.Load() // all of these have written their frames
	if err := w.open(); err != nil {
		return err
	}
	if err := syncData(w.f); err != nil {
		w.failed = fmt.Errorf("fsync %s failed; restart hashcart once the disk is fixed: %w", w.path, err)
		return w.failed
	}
	w.synced = upTo
	return ctx.Err()
}

// open (re)opens the WAL file when it is not open or has been replaced.
func (w *walSyncer) open() error {
	if w.f != nil {
		a, err1 := w.f.Stat()
		b, err2 := os.Stat(w.path)
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return nil
		}
		_ = w.f.Close()
		w.f = nil
	}
	f, err := os.OpenFile(w.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s for fsync: %w", w.path, err)
	}
	w.f = f
	return nil
}

func (w *walSyncer) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
