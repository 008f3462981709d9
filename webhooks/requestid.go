package webhooks

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/logctx"
)

// RequestIDHeader names a request for the logs. An incoming value that is
// 1-64 characters of letters, digits and "-_.:" is kept (a proxy in front
// chose it); anything else is replaced by a fresh random id. Every answer
// carries the id used.
const RequestIDHeader = "X-Request-Id"

// requestID gives each request an id, puts it in the request's context
// (c.UserContext) so that records logged with that context carry
// request_id, and logs one debug line per request. The line names the
// route pattern ("/checkout/:token"), never the path: paths hold link
// tokens.
func requestID(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Get(RequestIDHeader)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Set(RequestIDHeader, id)
		ctx := logctx.With(c.UserContext(), slog.String("request_id", id))
		c.SetUserContext(ctx)
		start := time.Now()
		err := c.Next()
		if log.Enabled(ctx, slog.LevelDebug) {
			status := c.Response().StatusCode()
			if fe, ok := err.(*fiber.Error); ok {
				status = fe.Code
			}
			log.DebugContext(ctx, "http request", "method", c.Method(), "route", c.Route().Path, "status", status,
				"duration", time.Since(start).Round(time.Microsecond))
		}
		return err
	}
}

func saneRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == ':':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Observer hears what becomes of deliveries, for metrics. Its methods must
// be quick and safe for concurrent use. A nil Observer is allowed wherever
// one is a field.
type Observer interface {
	// Intake is called once per X delivery with its events and what became
	// of them: "stored" (committed, acknowledged), "refused" (not stored,
	// answered 503 so X retries) or "dropped" (for an account that is not
	// ours, acknowledged and not stored).
	Intake(events []inbox.Event, result string)
	// SignatureRejected is called for each delivery from source ("x",
	// "stripe", "sandbox") whose signature does not verify.
	SignatureRejected(source string)
}

type nopObserver struct{}

func (nopObserver) Intake([]inbox.Event, string) {}
func (nopObserver) SignatureRejected(string)     {}

func observer(o Observer) Observer {
	if o == nil {
		return nopObserver{}
	}
	return o
}
