package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/inbox"
)

// SignatureHeader is the header X signs deliveries with.
const SignatureHeader = "x-twitter-webhooks-signature"

// Intake stores verified events durably; Submit returns nil only once they
// are committed. inbox.Committer implements it.
type Intake interface {
	Submit(ctx context.Context, events []inbox.Event) error
}

// XHandler serves the X Account Activity webhook.
type XHandler struct {
	// ConsumerSecret keys the CRC answer and the delivery signatures.
	ConsumerSecret string
	// KnownUser reports whether a for_user_id is one of our merchants.
	KnownUser func(xUserID string) bool
	Intake    Intake
	Now       func() time.Time
	Log       *slog.Logger
	// Observer hears of each delivery's outcome; may be nil.
	Observer Observer
	// CommitTimeout bounds how long a delivery waits for its commit before
	// answering 503 (X then retries). Default 10s.
	CommitTimeout time.Duration
}

// Mount registers GET and POST on path.
func (h *XHandler) Mount(app fiber.Router, path string) {
	app.Get(path, h.crc)
	app.Post(path, h.deliver)
}

// CRCResponse is X's challenge answer: "sha256=" + base64(HMAC-SHA256(key =
// consumer secret, message = crc_token)).
func CRCResponse(consumerSecret, crcToken string) string {
	return "sha256=" + sign(consumerSecret, []byte(crcToken))
}

func sign(secret string, msg []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(msg)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (h *XHandler) crc(c *fiber.Ctx) error {
	token := c.Query("crc_token")
	if token == "" {
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "crc_token query parameter is required"})
	}
	return c.JSON(fiber.Map{"response_token": CRCResponse(h.ConsumerSecret, token)})
}

// validSignature checks header against the body in constant time.
func (h *XHandler) validSignature(header string, body []byte) bool {
	got, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok {
		return false
	}
	gotRaw, err := base64.StdEncoding.DecodeString(got)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(h.ConsumerSecret))
	m.Write(body)
	return hmac.Equal(gotRaw, m.Sum(nil))
}

func (h *XHandler) deliver(c *fiber.Ctx) error {
	body := c.Body()
	if !h.validSignature(c.Get(SignatureHeader), body) {
		observer(h.Observer).SignatureRejected("x")
		h.Log.WarnContext(c.UserContext(), "x webhook signature rejected", "remote", ClientIP(c), "signed", c.Get(SignatureHeader) != "")
		return c.Status(fiber.StatusUnauthorized).JSON(fiber.Map{"error": "missing or invalid " + SignatureHeader})
	}
	forUser, events, err := inbox.Split(body, h.Now())
	if err != nil {
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": err.Error()})
	}
	if !h.KnownUser(forUser) {
		observer(h.Observer).Intake(events, "dropped")
		h.Log.WarnContext(c.UserContext(), "x webhook for an unknown account dropped", "for_user_id", forUser, "events", len(events))
		return c.SendStatus(fiber.StatusOK)
	}
	timeout := h.CommitTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), timeout)
	defer cancel()
	if err := h.Intake.Submit(ctx, events); err != nil {
		level := slog.LevelError
		if errors.Is(err, inbox.ErrClosed) {
			level = slog.LevelWarn
		}
		h.Log.Log(ctx, level, "x webhook not stored, asking X to retry", "for_user_id", forUser, "events", len(events), "err", err)
		observer(h.Observer).Intake(events, "refused")
		c.Set(fiber.HeaderRetryAfter, "1")
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"error": "temporarily unable to store events; retry"})
	}
	observer(h.Observer).Intake(events, "stored")
	return c.SendStatus(fiber.StatusOK)
}
