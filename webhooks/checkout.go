package webhooks

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/commerce"
)

//go:embed templates/*.html
var pageFS embed.FS

var linkPage = template.Must(template.ParseFS(pageFS, "templates/link.html"))

// CheckoutReader is what the link page reads.
type CheckoutReader interface {
	Hold(ctx context.Context, id int64) (commerce.Hold, error)
	Cart(ctx context.Context, id int64) (commerce.Cart, error)
}

// LinkPages serves GET /checkout/{token}: the page a DM's private link
// opens. It shows what the link holds (the items, the amount, the time left
// on the hold) or a clear page for an unknown or expired link.
type LinkPages struct {
	Links   *commerce.Links
	Store   CheckoutReader
	Catalog func() *commerce.Catalog
	Now     func() time.Time
	Log     *slog.Logger
}

// Mount registers the page.
func (p *LinkPages) Mount(app fiber.Router) {
	app.Get("/checkout/:token", p.show)
}

type linkView struct {
	Heading string
	Lines   []lineView
	Total   string
	Message string
}

type lineView struct {
	Quantity int
	Title    string
	Variant  string
	Amount   string
}

func (p *LinkPages) show(c *fiber.Ctx) error {
	// The token is in the path: never let it leave in a Referer, never let
	// a cache keep the page.
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("Cache-Control", "no-store")
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	ctx := c.UserContext()
	tok, err := p.Links.Resolve(ctx, c.Params("token"))
	switch {
	case errors.Is(err, commerce.ErrNotFound):
		return p.render(c, fiber.StatusNotFound, linkView{Heading: "This link doesn't work", Message: "Check that you opened the whole link from your DM. You can also DM \"buy\" to get a fresh one."})
	case errors.Is(err, commerce.ErrExpired):
		return p.render(c, fiber.StatusGone, linkView{Heading: "This link has expired", Message: "The items were held for a limited time. Reply to the post again, or DM \"buy\", to get a new link while stock lasts."})
	case err != nil:
		return err
	}
	var v linkView
	switch tok.Target.Kind {
	case commerce.LinkHold:
		h, err := p.Store.Hold(ctx, tok.Target.ID)
		if err != nil {
			return err
		}
		if h.Status != commerce.HoldActive || !p.Now().Before(h.ExpiresAt) {
			return p.render(c, fiber.StatusGone, linkView{Heading: "This hold has ended", Message: "The items are no longer held for you. Reply to the post again, or DM \"buy\", while stock lasts."})
		}
		title := h.OfferID
		if o, ok := p.Catalog().Offer(h.MerchantID, h.OfferID); ok {
			title = o.Title
		}
		left := h.ExpiresAt.Sub(p.Now()).Round(time.Minute)
		v = linkView{
			Heading: "Your order",
			Lines:   []lineView{{Quantity: h.Quantity, Title: title, Variant: h.Variant, Amount: h.Total().String()}},
			Total:   h.Total().String(),
			Message: fmt.Sprintf("Held for you until %s UTC (about %d min left). Payment opens on this page.", h.ExpiresAt.UTC().Format("15:04"), int(left.Minutes())),
		}
	case commerce.LinkCart:
		cart, err := p.Store.Cart(ctx, tok.Target.ID)
		if err != nil {
			return err
		}
		v = linkView{Heading: "Your cart", Total: cart.Total().String(), Message: "Items in a cart are not reserved until you check out."}
		for _, l := range cart.Lines {
			v.Lines = append(v.Lines, lineView{Quantity: l.Quantity, Title: l.Title, Variant: l.Variant,
				Amount: commerce.Money{Amount: l.UnitPrice.Amount * int64(l.Quantity), Currency: l.UnitPrice.Currency}.String()})
		}
	default:
		return p.render(c, fiber.StatusNotFound, linkView{Heading: "This link doesn't work"})
	}
	return p.render(c, fiber.StatusOK, v)
}

func (p *LinkPages) render(c *fiber.Ctx, status int, v linkView) error {
	var b bytes.Buffer
	if err := linkPage.Execute(&b, v); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(b.Bytes())
}
