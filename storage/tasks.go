package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// Tasks keeps provider tasks (commerce.TaskStore).
type Tasks struct{ db *DB }

// Tasks returns the provider task store.
func (db *DB) Tasks() *Tasks { return &Tasks{db: db} }

var _ commerce.TaskStore = (*Tasks)(nil)

// EnqueueTask implements commerce.TaskStore: the task is recorded in ctx's
// transaction, due at once, and a second task with the same key is ignored.
// The TaskWork worker is woken once the transaction commits.
func (s *Tasks) EnqueueTask(ctx context.Context, t commerce.ProviderTask, now time.Time) error {
	if t.Key == "" || t.Kind == "" || t.BuyerID == "" {
		return fmt.Errorf("enqueue provider task: key, kind and buyer are required: %w", commerce.ErrInvalid)
	}
	var deadline any
	if !t.Deadline.IsZero() {
		deadline = t.Deadline.UTC()
	}
	now = now.UTC()
	if err := s.db.write(ctx).Exec(`INSERT INTO provider_tasks (task_key, kind, provider, order_id, buyer_id, deadline, status, next_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (task_key) DO NOTHING`,
		t.Key, string(t.Kind), t.Provider, t.OrderID, t.BuyerID, deadline, now, now).Error; err != nil {
		return fmt.Errorf("enqueue provider task %s: %w", t.Key, err)
	}
	s.db.noteEnqueued(ctx, TaskWork)
	return nil
}

type taskRow struct {
	ID        int64
	TaskKey   string
	Kind      string
	Provider  string
	OrderID   int64
	BuyerID   string
	Deadline  *time.Time
	Attempts  int
	CreatedAt time.Time
}

// ClaimTasks implements commerce.TaskStore. On PostgreSQL the rows are
// claimed with FOR UPDATE SKIP LOCKED, so two instances never get the same
// task while its lease runs.
func (s *Tasks) ClaimTasks(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]commerce.ProviderTask, error) {
	now = now.UTC()
	var out []commerce.ProviderTask
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		tx := s.db.write(ctx)
		var rows []taskRow
		if err := tx.Raw(`SELECT id, task_key, kind, provider, order_id, buyer_id, deadline, attempts, created_at FROM provider_tasks
WHERE status = 'pending' AND next_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
ORDER BY next_at, id LIMIT ?`+s.db.forUpdate(), now, now, limit).Scan(&rows).Error; err != nil {
			return err
		}
		out = make([]commerce.ProviderTask, 0, len(rows))
		for _, r := range rows {
			if err := tx.Exec(`UPDATE provider_tasks SET lease_until = ? WHERE id = ?`, now.Add(lease), r.ID).Error; err != nil {
				return err
			}
			t := commerce.ProviderTask{ID: r.ID, Key: r.TaskKey, Kind: commerce.TaskKind(r.Kind), Provider: r.Provider,
				OrderID: r.OrderID, BuyerID: r.BuyerID, Attempts: r.Attempts, CreatedAt: r.CreatedAt.UTC()}
			if r.Deadline != nil {
				t.Deadline = r.Deadline.UTC()
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim provider tasks: %w", err)
	}
	return out, nil
}

// FinishTask implements commerce.TaskStore, in ctx's transaction when
// there is one (so an outcome and its task's end commit together).
func (s *Tasks) FinishTask(ctx context.Context, id int64, status commerce.TaskStatus, next time.Time, lastError string, now time.Time) error {
	var finished any
	if status != commerce.TaskPending {
		finished = now.UTC()
	}
	if len(lastError) > 500 {
		lastError = lastError[:500]
	}
	if err := s.db.write(ctx).Exec(`UPDATE provider_tasks SET status = ?, attempts = attempts + 1, last_error = ?, next_at = ?, lease_until = NULL, finished_at = ? WHERE id = ?`,
		string(status), lastError, next.UTC(), finished, id).Error; err != nil {
		return fmt.Errorf("finish provider task %d: %w", id, err)
	}
	return nil
}

// TaskStatus returns the status and attempts of the task with key, for
// tests and the operator; ErrNotFound when there is none.
func (s *Tasks) TaskStatus(ctx context.Context, key string) (commerce.TaskStatus, int, error) {
	var rows []struct {
		Status   string
		Attempts int
	}
	if err := s.db.read(ctx).Raw(`SELECT status, attempts FROM provider_tasks WHERE task_key = ?`, key).Scan(&rows).Error; err != nil {
		return "", 0, fmt.Errorf("read provider task %s: %w", key, err)
	}
	if len(rows) == 0 {
		return "", 0, fmt.Errorf("provider task %s: %w", key, commerce.ErrNotFound)
	}
	return commerce.TaskStatus(rows[0].Status), rows[0].Attempts, nil
}
