package webhooks

import (
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Slots bounds how many page requests are rendered at once. Rendering a
// page is work for the CPU (a few database reads and a template): with 200
// requests rendering at once on 2 cores each one takes 100 times longer,
// the scheduler serves them unevenly (the slowest took 3 times the mean),
// and the X webhook's acknowledgements compete with all of them. Through
// Slots, a request waits in line (first come, first served) for one of a
// few slots, then renders at full speed.
//
// The wait is reported in the Server-Timing header as "queue", next to
// "app" (the time spent once admitted), so that dashboards and load tools
// see both.
type Slots struct {
	ch      chan struct{}
	maxWait time.Duration
}

// NewSlots returns n slots; a request that has waited maxWait for one gets
// 503 with Retry-After. n <= 0 means no limit (nil).
func NewSlots(n int, maxWait time.Duration) *Slots {
	if n <= 0 {
		return nil
	}
	return &Slots{ch: make(chan struct{}, n), maxWait: maxWait}
}

// queueKey holds how long the request waited for its slot.
type queueKey struct{}

// Wrap runs h in a slot.
func (s *Slots) Wrap(h fiber.Handler) fiber.Handler {
	if s == nil {
		return h
	}
	return func(c *fiber.Ctx) error {
		start := time.Now()
		select {
		case s.ch <- struct{}{}:
		default:
			t := time.NewTimer(s.maxWait)
			select {
			case s.ch <- struct{}{}:
				t.Stop()
			case <-t.C:
				c.Set(fiber.HeaderRetryAfter, "1")
				return fiber.NewError(fiber.StatusServiceUnavailable, "busy, try again in a moment")
			}
		}
		defer func() { <-s.ch }()
		c.Locals(queueKey{}, time.Since(start))
		return h(c)
	}
}

// serverTiming is the Server-Timing value for a request that took total in
// hashcart: queue (waiting for a slot, when it did) and app (the rest).
func serverTiming(c *fiber.Ctx, total time.Duration) string {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	if q, ok := c.Locals(queueKey{}).(time.Duration); ok {
		return fmt.Sprintf("queue;dur=%.3f, app;dur=%.3f", ms(q), ms(total-q))
	}
	return fmt.Sprintf("app;dur=%.3f", ms(total))
}
