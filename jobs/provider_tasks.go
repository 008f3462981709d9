package jobs

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// TaskRunner performs provider tasks and ends the ones that failed too
// long (commerce.Checkout).
type TaskRunner interface {
	RunTask(ctx context.Context, t commerce.ProviderTask) error
	GiveUpTask(ctx context.Context, t commerce.ProviderTask, cause error) error
}

// ProviderTasks runs the payment provider calls that events recorded (a
// one-tap charge, deleting a forgotten buyer's customer), each outside any
// database transaction. A failed attempt is retried with exponential
// backoff (Backoff doubling, at most MaxBackoff apart, with jitter); after
// MaxAttempts attempts, or when the next attempt would come after a
// charge's hold has ended, the task is given up (the buyer is told).
//
// Run it with Loop and call Wake after a commit that recorded a task (the
// binary does it with storage.OnEnqueued): the task then starts at once
// instead of at the next Poll. The messages a task's outcome enqueues wake
// the outbox sender the same way. Several instances may run it: a task is
// leased to one runner at a time.
type ProviderTasks struct {
	Store  commerce.TaskStore
	Runner TaskRunner
	Now    func() time.Time
	Log    *slog.Logger
	// Lease is how long a claimed task is kept from other runners (2
	// minutes); it must outlast one provider call with its own retries.
	Lease time.Duration
	// Poll is how often Loop looks for due tasks when not woken (1 s).
	Poll time.Duration
	// Backoff is the first retry's delay (1 s); MaxBackoff caps it (1 min).
	Backoff, MaxBackoff time.Duration
	// MaxAttempts bounds a task's attempts (6).
	MaxAttempts int

	once sync.Once
	wake chan struct{}
}

func (j *ProviderTasks) init() {
	j.once.Do(func() { j.wake = make(chan struct{}, 1) })
}

// Name implements Job.
func (j *ProviderTasks) Name() string { return "provider_tasks" }

// Wake tells an idle Loop that a task was recorded. It never blocks.
func (j *ProviderTasks) Wake() {
	j.init()
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// Loop runs due tasks whenever woken and every Poll until ctx ends; a task
// under way when ctx ends is left to its lease (it is run again later).
func (j *ProviderTasks) Loop(ctx context.Context) {
	j.init()
	poll := j.Poll
	if poll <= 0 {
		poll = time.Second
	}
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		if _, err := j.Run(ctx); err != nil && ctx.Err() == nil {
			j.Log.Warn("provider tasks", "err", err)
		}
		timer.Reset(poll)
		select {
		case <-ctx.Done():
			return
		case <-j.wake:
		case <-timer.C:
		}
	}
}

// Run implements Job: it runs every due task once and returns how many
// ended (done or given up).
func (j *ProviderTasks) Run(ctx context.Context) (int, error) {
	lease := j.Lease
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	maxAttempts := j.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 6
	}
	backoff, maxBackoff := j.Backoff, j.MaxBackoff
	if backoff <= 0 {
		backoff = time.Second
	}
	if maxBackoff <= 0 {
		maxBackoff = time.Minute
	}
	ended := 0
	for ctx.Err() == nil {
		claimedAt := j.Now().UTC()
		due, err := j.Store.ClaimTasks(ctx, claimedAt, 10, lease)
		if err != nil || len(due) == 0 {
			return ended, err
		}
		for _, t := range due {
			if j.Now().UTC().After(claimedAt.Add(lease / 2)) {
				break // the lease is running out: leave the rest to the next claim
			}
			runErr := j.Runner.RunTask(ctx, t)
			if runErr == nil {
				ended++
				continue
			}
			if ctx.Err() != nil {
				return ended, nil // shutting down: the lease brings it back
			}
			now := j.Now().UTC()
			wait := min(backoff<<min(t.Attempts, 20), maxBackoff)
			wait -= rand.N(wait/4 + 1)
			next := now.Add(wait)
			if t.Attempts+1 >= maxAttempts || (!t.Deadline.IsZero() && !next.Before(t.Deadline)) {
				if err := j.Runner.GiveUpTask(ctx, t, runErr); err != nil {
					return ended, err
				}
				ended++
				continue
			}
			j.Log.Warn("provider task failed, will retry", "task", t.Key, "kind", t.Kind, "attempt", t.Attempts+1, "retry_in", wait, "err", runErr)
			if err := j.Store.FinishTask(ctx, t.ID, commerce.TaskPending, next, runErr.Error(), now); err != nil {
				return ended, err
			}
		}
	}
	return ended, nil
}
