package commerce

import "errors"

// Errors callers branch on. The bot turns each into a friendly answer and
// the checkout pages into a friendly page; the text here is for logs.
var (
	ErrNoMatch          = errors.New("no offer matches")
	ErrAmbiguous        = errors.New("several offers match")
	ErrVariantRequired  = errors.New("a variant must be chosen")
	ErrSoldOut          = errors.New("sold out")
	ErrNotOnSale        = errors.New("not on sale yet")
	ErrEnded            = errors.New("offer ended")
	ErrOverLimit        = errors.New("over the per-customer limit")
	ErrNotFound         = errors.New("not found")
	ErrExpired          = errors.New("expired")
	ErrUsed             = errors.New("already used")
	ErrQuantityTooLarge = errors.New("quantity too large")
	ErrConflict         = errors.New("conflicts with the current state")
	ErrNotShippable     = errors.New("cannot ship to that country")
	ErrInvalid          = errors.New("invalid")
	// ErrAuthenticationRequired: a saved method cannot be charged without
	// the buyer (3-D Secure); send them to the checkout page.
	ErrAuthenticationRequired = errors.New("the payment needs the buyer's confirmation")
	// ErrUnavailable: the payment provider could not be reached (network
	// errors, its 5xx answers) for long enough that hashcart gave up.
	ErrUnavailable = errors.New("the payment provider is unavailable")
)

// LimitError is an ErrOverLimit that says how many units the buyer may
// still take (0 when none).
type LimitError struct {
	Limit     int
	Remaining int
}

func (e *LimitError) Error() string { return ErrOverLimit.Error() }

// Unwrap makes errors.Is(err, ErrOverLimit) hold.
func (e *LimitError) Unwrap() error { return ErrOverLimit }
