package jobs

import (
	"context"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// HoldReleaser returns the units of holds whose time has passed to stock,
// claiming each hold row so that two instances never release one twice.
type HoldReleaser interface {
	ReleaseExpired(ctx context.Context, now time.Time, limit int) ([]commerce.Hold, error)
}

// ExpireHolds releases expired holds, so their units can be sold again
// within one tick of their expiry (reservations also release them lazily
// when stock runs out).
type ExpireHolds struct {
	Holds HoldReleaser
	Now   func() time.Time
	// Batch is how many holds one transaction releases (500).
	Batch int
	// Released, when set, is given the holds each batch released (the
	// waitlist takes their units); it returns how many buyers it served.
	Released func(ctx context.Context, holds []commerce.Hold) (int, error)
}

// Name implements Job.
func (j *ExpireHolds) Name() string { return "expire_holds" }

// Run implements Job: it releases every hold expired by now, a batch per
// transaction.
func (j *ExpireHolds) Run(ctx context.Context) (int, error) {
	batch := j.Batch
	if batch <= 0 {
		batch = 500
	}
	total := 0
	for ctx.Err() == nil {
		released, err := j.Holds.ReleaseExpired(ctx, j.Now().UTC(), batch)
		total += len(released)
		if err == nil && len(released) > 0 && j.Released != nil {
			_, err = j.Released(ctx, released)
		}
		if err != nil || len(released) < batch {
			return total, err
		}
	}
	return total, nil
}
