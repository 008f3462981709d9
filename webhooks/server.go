package webhooks

import (
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"
)

// NewApp returns a Fiber app with hashcart's limits and error answers:
// bodies over maxBody get 413, unknown routes 404, all as JSON, with no
// stack or internals in the answer.
func NewApp(maxBody int, log *slog.Logger) *fiber.App {
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
				log.Error("http handler failed", "method", c.Method(), "path", c.Path(), "err", err)
			}
			return c.Status(code).JSON(fiber.Map{"error": msg})
		},
	})
}
