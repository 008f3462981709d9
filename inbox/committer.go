package inbox

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ErrClosed is returned by Submit once the Committer has stopped.
var ErrClosed = errors.New("inbox is closed")

// Committer stores submitted events with group commit: while one
// transaction commits, the events submitted meanwhile gather, and the next
// transaction stores all of them. Each fsync thus acknowledges many
// deliveries, so durability costs latency of one commit, not throughput.
type Committer struct {
	store    Store
	maxBatch int
	reqs     chan *commitReq
	stopped  chan struct{}
	wake     func()
	log      *slog.Logger
}

type commitReq struct {
	events []Event
	done   chan error
}

// NewCommitter returns a Committer that stores up to maxBatch events a
// transaction and calls wake after each commit that stored something new
// (Workers.Wake, so workers start at once instead of at their next poll).
func NewCommitter(store Store, maxBatch int, wake func(), log *slog.Logger) *Committer {
	if maxBatch <= 0 {
		maxBatch = 1000
	}
	if wake == nil {
		wake = func() {}
	}
	return &Committer{
		store:    store,
		maxBatch: maxBatch,
		reqs:     make(chan *commitReq, 4096),
		stopped:  make(chan struct{}),
		wake:     wake,
		log:      log,
	}
}

// Submit stores events and returns nil once they are durably committed (or
// were stored before). The caller may acknowledge the delivery only then.
func (c *Committer) Submit(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	r := &commitReq{events: events, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-c.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// The events may still be committed; the sender retries and the
		// retry is deduplicated.
		return ctx.Err()
	}
}

// Run commits submitted events until ctx is done, then answers ErrClosed
// to what is still queued. Stop the HTTP server (which waits for in-flight
// Submit calls) before cancelling ctx, so nothing acknowledged is dropped.
func (c *Committer) Run(ctx context.Context) {
	defer func() {
		close(c.stopped)
		for {
			select {
			case r := <-c.reqs:
				r.done <- ErrClosed
			default:
				return
			}
		}
	}()
	for {
		var first *commitReq
		select {
		case <-ctx.Done():
			return
		case first = <-c.reqs:
		}
		batch := []*commitReq{first}
		n := len(first.events)
	gather:
		for n < c.maxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
				n += len(r.events)
			default:
				break gather
			}
		}
		c.commit(batch, n)
	}
}

func (c *Committer) commit(batch []*commitReq, n int) {
	events := make([]Event, 0, n)
	seen := make(map[string]struct{}, n)
	for _, r := range batch {
		for _, ev := range r.events {
			if _, dup := seen[ev.ID]; dup {
				continue
			}
			seen[ev.ID] = struct{}{}
			events = append(events, ev)
		}
	}
	// A commit under way is finished even during shutdown: its callers
	// are waiting to acknowledge.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	// One commit at a time, each durable before the next starts: a
	// delivery whose events an earlier commit already stored inserts
	// nothing and is acknowledged at once, which is right only because
	// that earlier commit is durable by now.
	inserted, err := c.store.InsertEvents(ctx, events)
	cancel()
	if err != nil {
		c.log.Error("inbox commit failed", "events", len(events), "deliveries", len(batch), "err", err)
	}
	for _, r := range batch {
		r.done <- err
	}
	if err == nil && inserted > 0 {
		c.wake()
	}
}
