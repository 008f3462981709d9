package inbox

import (
	"context"
	"time"
)

// Store is what the inbox needs from storage.
type Store interface {
	// InsertEvents stores the events whose ID is not stored yet, in one
	// transaction that is durably committed when it returns nil. It returns
	// how many were new. Events of kinds that are not Actionable are stored
	// as StatusSkipped.
	InsertEvents(ctx context.Context, events []Event) (inserted int, err error)
	// ProcessDue claims up to limit pending events whose next attempt is
	// due, oldest first, in transactions of a few events. Rows claimed by another
	// instance are skipped, never waited for. For each event it calls
	// handle with a context that joins the transaction; a nil result marks
	// the event done in that transaction, an error undoes the handler's
	// effects and records the failure, scheduling the event again at the
	// time retry returns, or marking it dead when retry says so. It returns
	// the number of events claimed: less than limit only when no more
	// were due (or on an error), so that workers go on while a backlog
	// lasts.
	ProcessDue(ctx context.Context, limit int, handle func(ctx context.Context, ev Event) error,
		retry func(ev Event, err error) (next time.Time, dead bool)) (int, error)
}

// Handler acts on events. It must do its work through stores called with
// the context it is given, so that its effects commit or roll back with
// the event; it must not talk to the outside world (messages to X go to the
// outbox, which is sent later).
type Handler interface {
	HandleEvent(ctx context.Context, ev Event) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, ev Event) error

// HandleEvent calls f.
func (f HandlerFunc) HandleEvent(ctx context.Context, ev Event) error { return f(ctx, ev) }
