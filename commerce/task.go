package commerce

import (
	"context"
	"time"
)

// TaskKind is what a provider task asks of the payment provider.
type TaskKind string

// Provider task kinds.
const (
	// TaskCharge charges a buyer's saved method for a pending order (a
	// one-tap YES).
	TaskCharge TaskKind = "charge"
	// TaskForget deletes the buyer at the provider (the Stripe Customer
	// and its saved cards) after the local erase.
	TaskForget TaskKind = "forget"
)

// TaskStatus is where a provider task is.
type TaskStatus string

// Provider task statuses.
const (
	TaskPending TaskStatus = "pending" // to run (again) at its NextAt
	TaskDone    TaskStatus = "done"    // its outcome is applied
	TaskDead    TaskStatus = "dead"    // given up; the buyer (or the log) was told
)

// ProviderTask is a call to the payment provider that an event decided on
// and that runs after the event's transaction, outside any transaction:
// a network call never holds the database. It is recorded in the event's
// transaction (so it is neither lost nor made twice) and its Key is the
// provider's idempotency key's basis, so running it again after a crash
// makes the same call.
type ProviderTask struct {
	ID int64
	// Key is unique: recording a task whose key exists changes nothing.
	Key      string
	Kind     TaskKind
	Provider string
	// OrderID is the order a charge pays (0 for a forget).
	OrderID int64
	BuyerID string
	// Deadline is when the task stops being worth doing: a charge must not
	// start after its hold ends. Zero means none.
	Deadline  time.Time
	Attempts  int
	CreatedAt time.Time
}

// TaskStore keeps provider tasks. Implementations claim a task for one
// runner at a time (a lease) across instances.
type TaskStore interface {
	// EnqueueTask records t in ctx's transaction, once per Key.
	EnqueueTask(ctx context.Context, t ProviderTask, now time.Time) error
	// ClaimTasks leases up to limit pending tasks due at now until
	// now+lease: no other runner gets them meanwhile; the lease of a
	// crashed runner runs out and the task is claimed again.
	ClaimTasks(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]ProviderTask, error)
	// FinishTask records an attempt: status done or dead, or pending again
	// at next. It counts the attempt and drops the lease.
	FinishTask(ctx context.Context, id int64, status TaskStatus, next time.Time, lastError string, now time.Time) error
}

// BuyerForgetter is a provider that keeps buyers (customers, saved
// methods) and can delete one.
type BuyerForgetter interface {
	// ForgetBuyer deletes what the provider keeps of the buyer; a buyer it
	// does not know is already forgotten.
	ForgetBuyer(ctx context.Context, buyerID string) error
}

// ReceiptEmailer is a provider that emails the buyer a receipt at
// PaymentRequest.Email once a payment succeeds; the checkout page says so
// beside the email field.
type ReceiptEmailer interface {
	EmailsReceipts() bool
}

// OneTapFailure is a one-tap charge that did not pay: the buyer finishes
// on the checkout page (the hold's link) or learns the hold has ended.
type OneTapFailure struct {
	Order Order
	// Method is the saved method that was (or would have been) charged,
	// nil when none is saved any more.
	Method *SavedMethod
	// HoldEnds is when the order's hold ends (the link's expiry).
	HoldEnds time.Time
	// Err says why: ErrAuthenticationRequired (the bank wants the buyer),
	// ErrExpired (the hold ended first), ErrUnavailable (the provider
	// could not be reached), or another error (the saved details cannot
	// pay this order).
	Err error
}
