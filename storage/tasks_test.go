package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

var taskNow = time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)

func chargeTask(key string) commerce.ProviderTask {
	return commerce.ProviderTask{Key: key, Kind: commerce.TaskCharge, Provider: "stripe", OrderID: 7, BuyerID: "901", Deadline: taskNow.Add(15 * time.Minute)}
}

func TestProviderTaskIsRecordedOnceAndOnlyWithItsTransaction(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		rolledBack := errors.New("event failed")
		err := db.InTx(ctx, func(ctx context.Context) error {
			if err := db.Tasks().EnqueueTask(ctx, chargeTask("charge:gone"), taskNow); err != nil {
				return err
			}
			return rolledBack
		})
		if !errors.Is(err, rolledBack) {
			t.Fatal(err)
		}
		if _, _, err := db.Tasks().TaskStatus(ctx, "charge:gone"); !errors.Is(err, commerce.ErrNotFound) {
			t.Fatalf("task of a rolled-back event: %v, want not found", err)
		}
		for i := 0; i < 2; i++ {
			if err := db.Tasks().EnqueueTask(ctx, chargeTask("charge:HC-000007"), taskNow); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.Tasks().ClaimTasks(ctx, taskNow, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Key != "charge:HC-000007" || got[0].OrderID != 7 || got[0].Kind != commerce.TaskCharge ||
			!got[0].Deadline.Equal(taskNow.Add(15*time.Minute)) {
			t.Fatalf("claimed %+v, want the one charge task", got)
		}
	})
}

func TestProviderTaskClaimedByOneOfTwoClaimers(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for _, k := range []string{"a", "b"} {
			if err := db.Tasks().EnqueueTask(ctx, chargeTask("charge:"+k), taskNow); err != nil {
				t.Fatal(err)
			}
		}
		// Runner A claims inside a transaction it keeps open a while; runner
		// B claims meanwhile (on PostgreSQL, another connection; on SQLite it
		// waits for the writer). B must not get A's task, before or after
		// A's commit.
		var bGot []commerce.ProviderTask
		var bErr error
		var aKey string
		done := make(chan struct{})
		err := db.InTx(ctx, func(ctx context.Context) error {
			got, err := db.Tasks().ClaimTasks(ctx, taskNow, 1, time.Minute)
			if err != nil || len(got) != 1 {
				return fmt.Errorf("A claimed %v, %v", got, err)
			}
			aKey = got[0].Key
			go func() {
				defer close(done)
				bGot, bErr = db.Tasks().ClaimTasks(context.Background(), taskNow, 10, time.Minute)
			}()
			time.Sleep(300 * time.Millisecond)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		<-done
		if bErr != nil {
			t.Fatal(bErr)
		}
		for _, b := range bGot {
			if b.Key == aKey {
				t.Fatalf("task %s claimed by both runners", aKey)
			}
		}
		if len(bGot) != 1 {
			t.Fatalf("B claimed %d tasks, want the other one", len(bGot))
		}
	})
}

func TestProviderTaskLeaseExpiryAndRetry(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		tasks := db.Tasks()
		if err := tasks.EnqueueTask(ctx, chargeTask("charge:x"), taskNow); err != nil {
			t.Fatal(err)
		}
		first, _ := tasks.ClaimTasks(ctx, taskNow, 10, time.Minute)
		if len(first) != 1 {
			t.Fatalf("first claim: %d tasks", len(first))
		}
		if again, _ := tasks.ClaimTasks(ctx, taskNow.Add(59*time.Second), 10, time.Minute); len(again) != 0 {
			t.Fatal("a leased task was claimed again before its lease ran out")
		}
		// The runner crashed: the lease runs out and another runner takes it.
		second, _ := tasks.ClaimTasks(ctx, taskNow.Add(61*time.Second), 10, time.Minute)
		if len(second) != 1 || second[0].ID != first[0].ID {
			t.Fatalf("after the lease: %+v, want the task again", second)
		}
		// A failed attempt waits for its retry time.
		if err := tasks.FinishTask(ctx, second[0].ID, commerce.TaskPending, taskNow.Add(5*time.Minute), "stripe 503", taskNow.Add(62*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ := tasks.ClaimTasks(ctx, taskNow.Add(4*time.Minute), 10, time.Minute); len(got) != 0 {
			t.Fatal("a task was claimed before its retry time")
		}
		third, _ := tasks.ClaimTasks(ctx, taskNow.Add(5*time.Minute), 10, time.Minute)
		if len(third) != 1 || third[0].Attempts != 1 {
			t.Fatalf("retry claim = %+v, want the task with 1 attempt", third)
		}
		if err := tasks.FinishTask(ctx, third[0].ID, commerce.TaskDone, taskNow, "", taskNow.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, _ := tasks.ClaimTasks(ctx, taskNow.Add(time.Hour), 10, time.Minute); len(got) != 0 {
			t.Fatal("a done task was claimed")
		}
		if st, n, _ := tasks.TaskStatus(ctx, "charge:x"); st != commerce.TaskDone || n != 2 {
			t.Fatalf("status %s after %d attempts, want done after 2", st, n)
		}
	})
}

// The task worker is woken once the transaction that enqueued a task has
// committed (a buyer's "forget" enqueues one in the DM's transaction), not
// before, and not for a transaction that rolled back.
func TestEnqueuedTaskWakesItsWorkerAfterCommit(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		wakes, before := 0, -1
		db.OnEnqueued(storage.TaskWork, func() { wakes++ })
		err := db.InTx(ctx, func(ctx context.Context) error {
			if err := db.Tasks().EnqueueTask(ctx, chargeTask("charge:HC-000001"), taskNow); err != nil {
				return err
			}
			before = wakes
			return nil
		})
		if err != nil || before != 0 || wakes != 1 {
			t.Fatalf("wakes before commit %d, after %d (err %v); want 0 then 1", before, wakes, err)
		}
		_ = db.InTx(ctx, func(ctx context.Context) error {
			if err := db.Tasks().EnqueueTask(ctx, chargeTask("charge:HC-000002"), taskNow); err != nil {
				return err
			}
			return errors.New("rolled back")
		})
		if wakes != 1 {
			t.Errorf("a rolled-back task woke the worker")
		}
	})
}
