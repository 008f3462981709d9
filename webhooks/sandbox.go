package webhooks

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/commerce/sandbox"
)

// SandboxSignatureHeader is the header a sandbox event's signature travels
// in: "t=<unix>,v1=<hex>".
const SandboxSignatureHeader = "Hashcart-Sandbox-Signature"

//go:embed templates/sandbox_pay.html
var sandboxPageFS embed.FS

var sandboxPage = template.Must(template.ParseFS(sandboxPageFS, "templates/sandbox_pay.html"))

// SandboxPages serves the sandbox provider's hosted payment page and its
// event webhook. The page never stores, logs or echoes the card number or
// security code; a paid or declined charge reaches the order only through
// the same verification as an external webhook delivery.
type SandboxPages struct {
	Provider *sandbox.Provider
	// Apply applies a verified outcome (the checkout's payment handling).
	// It must be idempotent by EventID: the same event may arrive more
	// than once, and the webhook applies every delivery.
	Apply func(ctx context.Context, o commerce.PaymentOutcome) error
	Log   *slog.Logger
	// Observer hears of signature failures; may be nil.
	Observer Observer
}

// Mount registers GET and POST /pay/sandbox/:session (the hosted page) and
// POST /webhooks/sandbox (signed events).
func (p *SandboxPages) Mount(app fiber.Router) {
	app.Get("/pay/sandbox/:session", p.show)
	app.Post("/pay/sandbox/:session", p.pay)
	app.Post("/webhooks/sandbox", p.webhook)
}

// sandboxView is what the page template shows.
type sandboxView struct {
	Heading     string
	Form        bool
	Amount      string
	Description string
	// Name and Exp are kept across a decline; the number and the security
	// code never come back.
	Name, Exp string
	Alert     string
	Field     string // the card field Alert is about
	CancelURL string
	Message   string
	Cards     []sandbox.TestCard
}

// sandboxUnconfirmed answers a paid charge whose event could not be applied.
const sandboxUnconfirmed = "Your payment went through but could not be confirmed yet. Enter your card again and press Pay: you will not be charged twice."

func (p *SandboxPages) show(c *fiber.Ctx) error {
	setSandboxPageHeaders(c)
	s, ok, err := p.session(c)
	if !ok {
		return err
	}
	return p.render(c, fiber.StatusOK, formView(s))
}

func (p *SandboxPages) pay(c *fiber.Ctx) error {
	setSandboxPageHeaders(c)
	s, ok, err := p.session(c)
	if !ok {
		return err
	}
	card := sandbox.Card{
		Name:   c.FormValue("cc-name"),
		Number: c.FormValue("cc-number"),
		Exp:    c.FormValue("cc-exp"),
		CSC:    c.FormValue("cc-csc"),
	}
	res := p.Provider.Charge(s, card)
	v := formView(s)
	v.Name, v.Exp = card.Name, card.Exp
	if res.ChargeID == "" {
		// Refused before any charge (a field incomplete or invalid): no
		// event, like a provider's page checking fields before submitting.
		p.Log.InfoContext(c.UserContext(), "sandbox card refused before charge", "order_id", s.OrderID, "field", res.Field)
		v.Alert, v.Field = res.Reason, res.Field
		return p.render(c, fiber.StatusUnprocessableEntity, v)
	}
	p.Log.InfoContext(c.UserContext(), "sandbox charge", "order_id", s.OrderID, "charge_id", res.ChargeID, "paid", res.Paid, "reason", res.Reason)
	body, sig, err := p.Provider.Event(s, res)
	if err != nil {
		return err
	}
	// Delivered in-process through the webhook's own path, so the
	// signature check and Apply run exactly as for an external delivery.
	_, applyErr := p.receive(c.UserContext(), body, sig)
	if res.Paid {
		if applyErr != nil {
			// The buyer retries; a successful charge keeps its event id, so
			// Apply sees the same event again and applies it once.
			v.Alert = sandboxUnconfirmed
			return p.render(c, fiber.StatusServiceUnavailable, v)
		}
		return c.Redirect(s.ReturnURL, fiber.StatusSeeOther)
	}
	v.Alert, v.Field = res.Reason, res.Field
	return p.render(c, fiber.StatusPaymentRequired, v)
}

// webhook serves POST /webhooks/sandbox.
func (p *SandboxPages) webhook(c *fiber.Ctx) error {
	status, _ := p.receive(c.UserContext(), c.Body(), c.Get(SandboxSignatureHeader))
	switch status {
	case fiber.StatusOK:
		return c.SendStatus(fiber.StatusOK)
	case fiber.StatusUnauthorized:
		return c.Status(status).JSON(fiber.Map{"error": "missing or invalid " + SandboxSignatureHeader})
	case fiber.StatusBadRequest:
		return c.Status(status).JSON(fiber.Map{"error": "malformed event"})
	default:
		// The provider retries on 5xx; Apply dedupes by event id.
		return c.Status(status).JSON(fiber.Map{"error": "event not applied; retry"})
	}
}

// receive is the webhook behind POST /webhooks/sandbox, callable
// in-process: it verifies body against signature, applies the outcome,
// logs any failure once, and says which HTTP status answers the delivery
// (200, 400 malformed, 401 signature, 500 not applied).
func (p *SandboxPages) receive(ctx context.Context, body []byte, signature string) (int, error) {
	o, err := p.Provider.VerifyEvent(body, signature)
	switch {
	case errors.Is(err, sandbox.ErrSignature):
		observer(p.Observer).SignatureRejected("sandbox")
		p.Log.WarnContext(ctx, "sandbox event signature rejected", "signed", signature != "", "err", err)
		return fiber.StatusUnauthorized, err
	case errors.Is(err, sandbox.ErrMalformedEvent):
		p.Log.WarnContext(ctx, "sandbox event malformed", "err", err)
		return fiber.StatusBadRequest, err
	case err != nil:
		p.Log.ErrorContext(ctx, "sandbox event not verified", "err", err)
		return fiber.StatusInternalServerError, err
	}
	if err := p.Apply(ctx, o); err != nil {
		p.Log.ErrorContext(ctx, "sandbox event not applied", "event_id", o.EventID, "order_id", o.OrderID, "err", err)
		return fiber.StatusInternalServerError, err
	}
	p.Log.InfoContext(ctx, "sandbox event applied", "event_id", o.EventID, "order_id", o.OrderID, "paid", o.Paid)
	return fiber.StatusOK, nil
}

// session reads the path's session; when it is unusable it renders the
// answer (404 or 410 page) and reports ok false with the render's error.
func (p *SandboxPages) session(c *fiber.Ctx) (sandbox.Session, bool, error) {
	s, err := p.Provider.Session(c.Params("session"))
	switch {
	case err == nil:
		return s, true, nil
	case errors.Is(err, commerce.ErrNotFound):
		return s, false, p.render(c, fiber.StatusNotFound, sandboxView{
			Heading: "This payment page doesn't work",
			Message: "Check that you opened the whole link, or go back to your checkout link and start the payment again.",
		})
	case errors.Is(err, commerce.ErrExpired):
		return s, false, p.render(c, fiber.StatusGone, sandboxView{
			Heading:   "This payment page has expired",
			Message:   "Your items were held for a limited time and the hold has ended. Nothing was charged.",
			CancelURL: s.CancelURL,
		})
	default:
		return s, false, err
	}
}

func formView(s sandbox.Session) sandboxView {
	return sandboxView{
		Heading:     "Pay for " + s.Reference,
		Form:        true,
		Amount:      s.Amount.String(),
		Description: s.Description,
		CancelURL:   s.CancelURL,
		Cards:       sandbox.TestCards(),
	}
}

// setSandboxPageHeaders keeps the page (and the session in its URL) out of
// caches, Referers and frames, and lets it run no script at all.
func setSandboxPageHeaders(c *fiber.Ctx) {
	c.Set("Cache-Control", "no-store")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
}

func (p *SandboxPages) render(c *fiber.Ctx, status int, v sandboxView) error {
	var b bytes.Buffer
	if err := sandboxPage.Execute(&b, v); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(b.Bytes())
}
