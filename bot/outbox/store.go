package outbox

import (
	"context"
	"errors"
	"time"
)

// Store is what the outbox needs from storage; storage.Outbox implements it.
type Store interface {
	// Enqueue stores messages in ctx's transaction (the caller's change and
	// its messages commit together); a message whose Key exists is ignored.
	// An invalid message (see Message.Validate) stores nothing and returns
	// an error matching ErrInvalid.
	Enqueue(ctx context.Context, msgs ...Message) error
	// Claim runs one claiming pass in one transaction, committed before it
	// returns; see ClaimRequest and Claim for what it does.
	Claim(ctx context.Context, req ClaimRequest) (Claim, error)
	// Finish records what became of a claimed message and enqueues r.Then in
	// the same transaction. It reports false, and changes nothing, when the
	// claim is no longer held (its lease expired and another sender claimed
	// the message); an OutcomeSent is recorded anyway, unless the message is
	// already sent, since X has it.
	Finish(ctx context.Context, r Result) (bool, error)
	// BlockedUntil returns until when the budget key is blocked by a 429, or
	// the zero time.
	BlockedUntil(ctx context.Context, budgetKey string) (time.Time, error)
	// InTx runs fn in one transaction; Finish and link minting called with
	// its context join it, so a pass's records cost one commit.
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// SentRecorder is a Store that records many sends at once.
type SentRecorder interface {
	// FinishSent records results, each an OutcomeSent with no Block, as
	// Finish would (follow-ups included), in ctx's transaction and in a
	// statement or two; applied[i] reports what Finish would have for
	// results[i].
	FinishSent(ctx context.Context, results []Result) (applied []bool, err error)
}

// DeferredRequeuer is a Store that can make due again the messages a
// claim pass deferred to the end of their account's budget window (or of
// a 429), so that the next pass weighs them against the budget configured
// now. The Sender calls it once as it starts: an account's per_account
// raised since (a restart) then sends them at once instead of at the
// window's end, and an account still out of budget defers them again.
type DeferredRequeuer interface {
	// RequeueDeferred makes every pending message that was never
	// attempted and is not due before now due at now, and returns how many
	// it moved. A message waiting out a retry's backoff keeps its time.
	RequeueDeferred(ctx context.Context, now time.Time) (int64, error)
}

// SentLookup is a Store that knows the X ids of the messages it recorded
// as sent. A message found at X under one of them is another message's
// send, not a lapsed attempt of the message looked for (two reminder steps
// of a cart have the same text).
type SentLookup interface {
	// RecordedXIDs returns those of xids recorded as a sent message's.
	RecordedXIDs(ctx context.Context, xids []string) (map[string]bool, error)
}

// ClaimRequest is one claiming pass. In order, the pass:
//
//  1. marks StatusExpired the unsent messages created before Now-MaxAge and
//     those whose Link expired, and reports them in Claim.Expired;
//  2. takes due messages (pending with next attempt due, or sending with an
//     expired lease) in Priority order; within a priority, lapsed leases
//     first, then pending messages in the order they became due (enqueue
//     order for first attempts); skipping rows another instance holds;
//     and for each:
//  3. if it has a Group and Collapse, and the group was collapsed before or
//     has more pending members than the account can still send in this
//     window (after the account's pending messages of higher priority),
//     marks every pending member StatusCollapsed, enqueues the Collapse
//     message, reports it in Claim.Collapsed and ends the pass;
//  4. otherwise takes one unit of the app's and the account's budget (an
//     account out of budget, or blocked by a 429, keeps its messages
//     pending), and leases the message until Now+Lease.
type ClaimRequest struct {
	Now    time.Time
	Limit  int
	Lease  time.Duration
	Budget Budget
	MaxAge time.Duration
	// SkipExpiry leaves out step 1 (it scans every waiting message) and
	// the messages whose lease ran out (leases last many seconds, and such
	// messages are rare: a sender that died). A sender sets it on all
	// passes but about one a second.
	SkipExpiry bool
	// Prepare, when set, runs in the claim's transaction once messages are
	// leased, with them; its error rolls the whole claim back. The sender
	// mints the messages' links there: they must be durable before a
	// message goes out, and the claim's commit makes them so at no extra
	// commit.
	Prepare func(ctx context.Context, msgs []Claimed) error
}

// ErrPrepare marks a claim rolled back by its ClaimRequest.Prepare.
var ErrPrepare = errors.New("preparing the claimed messages failed")

// Claim is what a claiming pass did.
type Claim struct {
	// Messages are leased to the caller, budget taken, in sending order.
	Messages []Claimed
	// Expired were given up in this pass.
	Expired []Expired
	// Collapsed are the groups replaced by their Collapse post in this pass.
	Collapsed []Collapsed
}

// Claimed is a message leased to one sender.
type Claimed struct {
	Message
	// ID is the storage id.
	ID int64
	// Claim numbers the lease; Finish needs it.
	Claim int64
	// Attempts counts earlier failed attempts (not rate-limit waits).
	Attempts   int
	CreatedAt  time.Time
	LeaseUntil time.Time
	// Lapsed is set when an earlier claim's lease ran out before its
	// outcome was recorded (its sender died): the message may be at X
	// already.
	Lapsed bool
}

// Expired is a message given up by a claiming pass.
type Expired struct {
	Key, MerchantID string
	Kind            Kind
	CreatedAt       time.Time
	// LinkExpired is true when the message was given up because its link's
	// hold had ended, false when it was too old.
	LinkExpired bool
}

// Collapsed is a group replaced by one post.
type Collapsed struct {
	Group, MerchantID string
	// Messages is how many pending members were collapsed.
	Messages int
	// PostKey is the Key of the Collapse message enqueued instead.
	PostKey string
}

// Outcome is what became of a claimed message.
type Outcome string

// Outcomes of a send.
const (
	OutcomeSent          Outcome = "sent"          // StatusSent with Result.XID
	OutcomeRetry         Outcome = "retry"         // pending again at Result.Next; one more failed attempt
	OutcomeRateLimited   Outcome = "rate_limited"  // pending again at Result.Next; Result.Block blocked until then
	OutcomeReleased      Outcome = "released"      // pending again at Result.Next, not attempted
	OutcomeFailed        Outcome = "failed"        // StatusFailed
	OutcomeUndeliverable Outcome = "undeliverable" // StatusUndeliverable
	OutcomeExpired       Outcome = "expired"       // StatusExpired
)

// Result is what Finish records.
type Result struct {
	ID, Claim int64
	Outcome   Outcome
	Now       time.Time
	// XID is X's id for the sent post or DM.
	XID string
	// Error describes a failure; it is stored, so it must hold no secret.
	Error string
	// Next is when a message put back pending may be claimed again.
	Next time.Time
	// Block is the budget key that a 429 blocks until Next, or "".
	Block string
	// Then is enqueued in the same transaction, when the outcome is recorded.
	Then *Message
}
