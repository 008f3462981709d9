package webhooks

import (
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
)

// NewApp returns a Fiber app with hashcart's limits and error answers:
// bodies over maxBody get 413, unknown routes 404, all as JSON, with no
// stack or internals in the answer.
//
// Every answer carries X-Request-Id (see RequestIDHeader) and a
// Server-Timing header (app;dur=milliseconds): the
// time hashcart spent on the request, for operators' dashboards and the
// load tools; pages that wait for a render slot (Slots) add queue;dur=,
// the wait, which app then does not include.
func NewApp(maxBody int, log *slog.Logger) *fiber.App {
	app := newFiber(maxBody, log)
	app.Use(requestID(log))
	app.Use(func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		c.Set("Server-Timing", serverTiming(c, time.Since(start)))
		return err
	})
	return app
}

func newFiber(maxBody int, log *slog.Logger) *fiber.App {
	return fiber.New(fiber.Config{
		AppName:               "hashcart",
		BodyLimit:             maxBody,
		DisableStartupMessage: true,
		ReadBufferSize:        16 * 1024,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			code := fiber.StatusInternalServerError
			msg := "internal error"
			var fe *fiber.Error
			if errors.As(err, &fe) {
				code, msg = fe.Code, fe.Message
			} else {
				log.ErrorContext(c.UserContext(), "http handler failed", "method", c.Method(), "route", c.Route().Path, "err", err)
			}
			return c.Status(code).JSON(fiber.Map{"error": msg})
		},
	})
}
