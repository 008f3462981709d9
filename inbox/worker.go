package inbox

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"

	"github.com/hashcart/hashcart/logctx"
	"time"
)

// Workers claim due events from the Store and hand them to a Handler.
type Workers struct {
	Store   Store
	Handler Handler
	// Count is how many claim loops run in this process.
	Count int
	// Batch is how many events a loop handles per call of ProcessDue
	// (the store splits them into transactions of its own size).
	Batch int
	// Poll is how often an idle worker looks for work it was not woken for
	// (events stored by another instance, retries coming due).
	Poll time.Duration
	// MaxAttempts is how many failed attempts make an event dead.
	MaxAttempts int
	Now         func() time.Time
	Log         *slog.Logger
	// Handled, when set, is called after each handler run with the event's
	// kind and the handler's result, for metrics. A nil result is counted
	// before its transaction commits; should that commit fail, the event is
	// handled again and reported again.
	Handled func(kind Kind, err error)

	once sync.Once
	wake chan struct{}
}

func (w *Workers) init() {
	w.once.Do(func() {
		w.wake = make(chan struct{}, 1)
		if w.Count <= 0 {
			w.Count = 1
		}
		if w.Batch <= 0 {
			w.Batch = 100
		}
		if w.Poll <= 0 {
			w.Poll = 250 * time.Millisecond
		}
		if w.MaxAttempts <= 0 {
			w.MaxAttempts = 10
		}
		if w.Now == nil {
			w.Now = time.Now
		}
		if w.Log == nil {
			w.Log = slog.Default()
		}
	})
}

// Wake tells an idle worker that new events are stored. It never blocks.
func (w *Workers) Wake() {
	w.init()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run runs Count claim loops until ctx is done and returns when every loop
// has finished the batch it was handling. A batch under way when ctx ends
// is completed and committed, not abandoned.
func (w *Workers) Run(ctx context.Context) {
	w.init()
	var wg sync.WaitGroup
	for i := 0; i < w.Count; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx)
		}()
	}
	wg.Wait()
}

func (w *Workers) loop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		n, err := w.Store.ProcessDue(context.WithoutCancel(ctx), w.Batch, w.handle, w.retry)
		if err != nil {
			w.Log.Error("inbox claim failed", "err", err)
		}
		if n == w.Batch && err == nil && ctx.Err() == nil {
			// More is probably waiting: keep going, and let another loop help.
			w.Wake()
			continue
		}
		timer.Reset(w.Poll)
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		}
	}
}

func (w *Workers) handle(ctx context.Context, ev Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
		}
		if w.Handled != nil {
			w.Handled(ev.Kind, err)
		}
	}()
	// Whatever the handler logs with ctx names the event.
	ctx = logctx.With(ctx, slog.String("event_id", ev.ID))
	return w.Handler.HandleEvent(ctx, ev)
}

// retry schedules a failed event with exponential backoff and jitter
// (1s, 2s, 4s ... capped at 5 minutes), or gives it up after MaxAttempts.
func (w *Workers) retry(ev Event, err error) (time.Time, bool) {
	attempt := ev.Attempts + 1
	if attempt >= w.MaxAttempts {
		w.Log.Error("inbox event dead", "event_id", ev.ID, "kind", ev.Kind, "attempts", attempt, "err", err)
		return time.Time{}, true
	}
	backoff := time.Second << min(attempt-1, 9)
	backoff = min(backoff, 5*time.Minute)
	backoff += rand.N(backoff / 4)
	w.Log.Warn("inbox event failed", "event_id", ev.ID, "kind", ev.Kind, "attempt", attempt, "retry_in", backoff, "err", err)
	return w.Now().Add(backoff), false
}
