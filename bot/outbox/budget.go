package outbox

import (
	"math/rand/v2"
	"time"
)

// Budget is how many messages may be sent per fixed Window: PerAccount by
// one merchant's account, PerApp by all accounts together. The counts live
// in the database, so every instance shares them.
type Budget struct {
	Window     time.Duration
	PerAccount int
	PerApp     int
}

// AppBudgetKey names the app-wide budget.
const AppBudgetKey = "app"

// AccountBudgetKey names the budget of a merchant's account.
func AccountBudgetKey(merchantID string) string { return "account:" + merchantID }

// Backoff bounds for retries after server and network errors.
const (
	backoffBase = time.Second
	backoffMax  = time.Minute
)

// backoff is the wait before retry number attempt (1 for the first retry):
// 1s, 2s, 4s ... capped at a minute, less up to a quarter at random so that
// messages failed together do not retry together.
func backoff(attempt int) time.Duration {
	d := backoffMax
	if attempt < 7 {
		d = min(backoffBase<<max(attempt-1, 0), backoffMax)
	}
	return d - rand.N(d/4+1)
}

// rateLimitFallback is how long an account is blocked after a 429 that did
// not say when the limit resets.
const rateLimitFallback = time.Minute
