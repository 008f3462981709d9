package storage

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestWALSyncCoversEveryCommitBeforeIt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db-wal")
	if err := writeTestFile(path); err != nil {
		t.Fatal(err)
	}
	w := &walSyncer{path: path}
	first, second := w.commit(), w.commit()
	if err := w.sync(ctx, first); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if w.synced < second {
		t.Fatalf("an fsync started after commit %d covers only up to %d", second, w.synced)
	}
}

// After a failed fsync nothing is known durable any more: every later
// sync fails too, even for a commit nothing new was written after.
func TestFailedWALSyncFailsEveryLaterSync(t *testing.T) {
	ctx := context.Background()
	// fdatasync of /dev/null fails (EINVAL): a stand-in for a failing disk.
	w := &walSyncer{path: "/dev/null"}
	err := w.sync(ctx, w.commit())
	if err == nil {
		t.Skip("fdatasync of /dev/null succeeds here")
	}
	if !strings.Contains(err.Error(), "restart hashcart") {
		t.Fatalf("error %q does not say what to do", err)
	}
	for _, n := range []uint64{0, 1, w.commit()} {
		if err := w.sync(ctx, n); err == nil {
			t.Fatalf("sync(%d) after a failed fsync succeeded", n)
		}
	}
}
