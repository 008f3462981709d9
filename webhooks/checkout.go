package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/commerce"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

//go:embed templates/*.html
var pageFS embed.FS

var checkoutPage = template.Must(template.ParseFS(pageFS, "templates/checkout.html"))

// CheckoutReader is what the pages read besides orders.
type CheckoutReader interface {
	Hold(ctx context.Context, id int64) (commerce.Hold, error)
	Cart(ctx context.Context, id int64) (commerce.Cart, error)
	CartHolds(ctx context.Context, cartID int64) ([]commerce.Hold, error)
}

// CheckoutPages serves the pages behind private links:
//
//	GET  /checkout/{token}         the order form (or what became of it)
//	POST /checkout/{token}         place the order and go to payment
//	GET  /checkout/{token}/done    the confirmation
//	GET  /orders/{token}           the buyer's orders and saved details
//	POST /orders/{token}/forget    remove the saved details
//
// Every page works without JavaScript, never lets the token leave in a
// Referer and is never cached.
type CheckoutPages struct {
	Links    *commerce.Links
	Store    CheckoutReader
	Orders   commerce.OrderStore
	Details  commerce.DetailsStore
	Checkout *commerce.Checkout
	// Shop changes a hold's variant and quantity.
	Shop *commerce.Shop
	// Forget erases a buyer's saved details (the DM "forget" does the same).
	Forget    func(ctx context.Context, buyerID string, now time.Time) error
	Catalog   func() *commerce.Catalog
	CSRFKey   []byte
	PublicURL string
	Now       func() time.Time
	Log       *slog.Logger
	// Opened, when set, records that a hold's checkout page was opened
	// (the merchant page counts the first time); a failure is logged and
	// the page still shown.
	Opened func(ctx context.Context, holdID int64, now time.Time) error
	// Slots, when set, bounds how many of these pages render at once
	// (server.page_concurrency).
	Slots *Slots
	// ReceiptsByEmail says that the payment provider emails the buyer a
	// receipt at the address the form asks for (a commerce.ReceiptEmailer,
	// as Stripe is; the sandbox is not); the form says so.
	ReceiptsByEmail bool
}

// Mount registers the pages.
func (p *CheckoutPages) Mount(app fiber.Router) {
	// The pages that only read and render wait for a slot; the forms
	// (which may call a payment provider) do not hold one.
	w := p.Slots.Wrap
	app.Get("/checkout/:token", w(p.show))
	app.Post("/checkout/:token", p.submit)
	app.Post("/checkout/:token/change", p.change)
	app.Post("/checkout/:token/cart", p.checkOutCart)
	app.Post("/checkout/:token/line", p.changeCartLine)
	app.Get("/checkout/:token/done", w(p.done))
	app.Get("/orders/:token", w(p.orders))
	app.Post("/orders/:token/forget", p.forget)
}

type lineView struct {
	Quantity int
	Title    string
	Variant  string
	Amount   string
}

type pageView struct {
	Title, Heading, Merchant string
	Lines                    []lineView
	Total                    string
	Message                  string
	Good                     bool
	// The form.
	Action, CSRF string
	HoldUntil    string
	MinutesLeft  int
	// PayingHold is the minutes the items stay held once the buyer goes
	// to a provider whose page cannot close sooner (Stripe); 0 otherwise.
	PayingHold int
	Form       commerce.Submission
	Errors     map[string]string
	Alert      string
	Countries  template.HTML
	Free       bool
	// EmailReceipt: a receipt goes to the email given (a paid order, with
	// a provider that emails receipts).
	EmailReceipt bool
	Orders       []orderView
	Saved        string
	// The change of variant and quantity.
	Variants   []choice
	Quantities []choice
	// A cart's review (cart.go).
	CartLines []cartLineView
	Problems  []string
	Skip      []string
	RestTotal string
}

// choice is an option of a select.
type choice struct {
	Value    string
	Selected bool
}

// countryOptions renders the <option>s of a country list, names in
// English sorted by name, with selected chosen. The result is cached per
// list and selection: rendering 249 countries was most of a page's cost.
func countryOptions(codes []string, selected string) template.HTML {
	key := strings.Join(codes, ",") + "|" + selected
	if html, ok := optionsCache.Load(key); ok {
		return html.(template.HTML)
	}
	names := display.English.Regions()
	type country struct{ code, name string }
	list := make([]country, 0, len(codes))
	for _, c := range codes {
		name := c
		if r, err := language.ParseRegion(c); err == nil {
			if n := names.Name(r); n != "" {
				name = n
			}
		}
		list = append(list, country{c, name})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	var b strings.Builder
	for _, c := range list {
		sel := ""
		if c.code == selected {
			sel = " selected"
		}
		fmt.Fprintf(&b, `<option value="%s"%s>%s</option>`, template.HTMLEscapeString(c.code), sel, template.HTMLEscapeString(c.name))
	}
	html := template.HTML(b.String())
	optionsCache.Store(key, html)
	return html
}

// optionsCache holds rendered country lists; its size is bounded by the
// offers' ship_to lists times the countries selectable in them.
var optionsCache sync.Map

type orderView struct {
	Reference, Status string
	Lines             []lineView
	Total             string
	Timeline          []string
}

func secureHeaders(c *fiber.Ctx) {
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("Cache-Control", "no-store")
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self' https:; frame-ancestors 'none'; base-uri 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
}

func (p *CheckoutPages) render(c *fiber.Ctx, status int, name string, v pageView) error {
	if v.Title == "" {
		v.Title = v.Heading
	}
	if v.Merchant == "" {
		v.Merchant = "the shop"
	}
	v.EmailReceipt = p.ReceiptsByEmail && !v.Free
	var b bytes.Buffer
	if err := checkoutPage.ExecuteTemplate(&b, name, v); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(b.Bytes())
}

func (p *CheckoutPages) message(c *fiber.Ctx, status int, heading, msg string) error {
	return p.render(c, status, "message", pageView{Heading: heading, Message: msg})
}

// csrf is the form token for a link: only someone who has the page (and so
// the link) can post it, and a cross-site post is refused as well.
func (p *CheckoutPages) csrf(kind, secret string) string {
	m := hmac.New(sha256.New, p.CSRFKey)
	m.Write([]byte(kind + ":" + commerce.HashToken(secret)))
	return hex.EncodeToString(m.Sum(nil))
}

func (p *CheckoutPages) csrfOK(c *fiber.Ctx, kind, secret string) bool {
	if site := c.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	return hmac.Equal([]byte(c.FormValue("csrf")), []byte(p.csrf(kind, secret)))
}

// resolve turns the link into its token, answering the page for links that
// do not work. ok is false when a page was sent.
func (p *CheckoutPages) resolve(c *fiber.Ctx, kind commerce.LinkKind) (commerce.Token, bool, error) {
	secureHeaders(c)
	tok, err := p.Links.Resolve(c.UserContext(), c.Params("token"))
	switch {
	case errors.Is(err, commerce.ErrNotFound) || (err == nil && tok.Target.Kind != kind && !(kind == commerce.LinkHold && tok.Target.Kind == commerce.LinkCart)):
		return tok, false, p.message(c, fiber.StatusNotFound, "This link doesn't work",
			`Check that you opened the whole link from your DM. You can also DM "buy" or "orders" to get a fresh one.`)
	case errors.Is(err, commerce.ErrExpired):
		if kind == commerce.LinkHold {
			// A paid order's link still shows the order.
			if o, oerr := p.linkOrder(c.UserContext(), tok); oerr == nil && o.Status != commerce.OrderPending {
				return tok, false, p.orderState(c, o)
			}
		}
		return tok, false, p.message(c, fiber.StatusGone, "This link has expired",
			`It was valid for a limited time. Reply to the post again, or DM "buy", to get a new link while stock lasts.`)
	case err != nil:
		return tok, false, err
	}
	return tok, true, nil
}

func (p *CheckoutPages) offer(h commerce.Hold) (*commerce.Offer, string) {
	cat := p.Catalog()
	name := h.MerchantID
	if m, ok := cat.Merchant(h.MerchantID); ok && m.Name != "" {
		name = m.Name
	}
	o, ok := cat.Offer(h.MerchantID, h.OfferID)
	if !ok {
		return nil, name
	}
	return o, name
}

func holdLines(h commerce.Hold, title string) []lineView {
	return []lineView{{Quantity: h.Quantity, Title: title, Variant: h.Variant, Amount: h.Total().String()}}
}

func orderLines(o commerce.Order) []lineView {
	out := make([]lineView, len(o.Lines))
	for i, l := range o.Lines {
		out[i] = lineView{Quantity: l.Quantity, Title: l.Title, Variant: l.Variant,
			Amount: commerce.Money{Amount: l.UnitPrice.Amount * int64(l.Quantity), Currency: l.UnitPrice.Currency}.String()}
	}
	return out
}

// orderState is the page for a link whose order is no longer pending: a
// reused link shows what became of it, and changes nothing.
func (p *CheckoutPages) orderState(c *fiber.Ctx, o commerce.Order) error {
	v := pageView{Lines: orderLines(o), Total: o.Total.String()}
	switch o.Status {
	case commerce.OrderPaid, commerce.OrderFulfilled:
		v.Heading, v.Good = "Thank you! Order "+o.Reference()+" is confirmed", true
		v.Message = "A confirmation is on its way to your DMs."
		if o.Shipping.City != "" {
			v.Message = "Shipping to " + o.Shipping.Short() + ". A confirmation is on its way to your DMs."
		}
	case commerce.OrderRefunded:
		v.Heading = "Order " + o.Reference() + " was refunded"
		v.Message = "The item sold out before your payment arrived, so your payment was refunded in full."
		if len(o.Lines) > 1 {
			v.Message = "An item of your cart sold out before your payment arrived, so nothing was sold and your payment was refunded in full."
		}
	default:
		v.Heading = "Order " + o.Reference() + " is " + string(o.Status)
	}
	return p.render(c, fiber.StatusOK, "message", v)
}

func (p *CheckoutPages) show(c *fiber.Ctx) error {
	tok, ok, err := p.resolve(c, commerce.LinkHold)
	if !ok {
		return err
	}
	if tok.Target.Kind == commerce.LinkCart {
		return p.showCart(c, tok, http200, cartNotice{})
	}
	return p.showHold(c, tok, http200, commerce.Submission{}, nil, "")
}

const http200 = fiber.StatusOK

func (p *CheckoutPages) showHold(c *fiber.Ctx, tok commerce.Token, status int, form commerce.Submission, errs map[string]string, alert string) error {
	ctx := c.UserContext()
	h, err := p.Store.Hold(ctx, tok.Target.ID)
	if err != nil {
		return err
	}
	if p.Opened != nil && !h.LinkOpened {
		if err := p.Opened(ctx, h.ID, p.Now()); err != nil {
			p.Log.Warn("record checkout page opened", "hold", h.ID, "err", err)
		}
	}
	if o, err := p.Orders.OrderForHold(ctx, h.ID); err == nil && o.Status != commerce.OrderPending {
		return p.orderState(c, o)
	}
	now := p.Now()
	if h.CartID != 0 {
		return p.message(c, fiber.StatusConflict, "This item is in your cart", cartHoldMessage)
	}
	if h.Status != commerce.HoldActive || !now.Before(h.ExpiresAt) {
		return p.message(c, fiber.StatusGone, "This hold has ended",
			`The items are no longer held for you. Reply to the post again, or DM "buy", while stock lasts.`)
	}
	offer, merchant := p.offer(h)
	if offer == nil {
		return p.message(c, fiber.StatusGone, "This offer has ended", "The merchant no longer offers this item.")
	}
	if form == (commerce.Submission{}) {
		// A returning buyer finds their details filled in.
		if saved, err := p.Details.SavedDetails(ctx, h.BuyerID); err == nil {
			form.Shipping, form.Contact = saved.Shipping, saved.Contact
		}
		form.Save = true
		if form.Shipping.Country == "" && len(offer.ShipTo) > 0 {
			form.Shipping.Country = offer.ShipTo[0]
		}
	}
	countries := offer.ShipTo
	if len(countries) == 0 {
		countries = commerce.Countries()
	}
	secret := c.Params("token")
	v := pageView{
		Heading: "Check out with " + merchant, Title: offer.Title, Merchant: merchant,
		Lines: holdLines(h, offer.Title), Total: h.Total().String(),
		Action: "/checkout/" + secret, CSRF: p.csrf("checkout", secret),
		HoldUntil: h.ExpiresAt.UTC().Format("15:04"), MinutesLeft: int(h.ExpiresAt.Sub(now).Minutes() + 0.5),
		Form: form, Errors: errs, Alert: alert, Countries: countryOptions(countries, form.Shipping.Country), Free: offer.Free(),
	}
	v.PayingHold = p.payingHold(h.ExpiresAt.Sub(now), offer.Free())
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	for _, vr := range offer.Variants {
		v.Variants = append(v.Variants, choice{Value: vr.Name, Selected: vr.Name == h.Variant})
	}
	for q := 1; q <= commerce.QuantityChoices(offer); q++ {
		v.Quantities = append(v.Quantities, choice{Value: fmt.Sprint(q), Selected: q == h.Quantity})
	}
	return p.render(c, status, "checkout", v)
}

// posted is a form post on a hold's page, checked: the link works, the
// CSRF token matches, the hold and its offer exist.
type posted struct {
	tok    commerce.Token
	secret string
	hold   commerce.Hold
	offer  *commerce.Offer
}

// checkPost checks a post to a hold's page; when ok is false the answer
// (an error page) was sent and err is what to return.
func (p *CheckoutPages) checkPost(c *fiber.Ctx) (posted, bool, error) {
	tok, ok, err := p.resolve(c, commerce.LinkHold)
	if !ok {
		return posted{}, false, err
	}
	secret := c.Params("token")
	if tok.Target.Kind != commerce.LinkHold || !p.csrfOK(c, "checkout", secret) {
		return posted{}, false, p.message(c, fiber.StatusForbidden, "Please try again", "This form has expired or did not come from your checkout page. Open the link from your DM again.")
	}
	h, err := p.Store.Hold(c.UserContext(), tok.Target.ID)
	if err != nil {
		return posted{}, false, err
	}
	if h.CartID != 0 {
		return posted{}, false, p.message(c, fiber.StatusConflict, "This item is in your cart", cartHoldMessage)
	}
	offer, _ := p.offer(h)
	if offer == nil {
		return posted{}, false, p.message(c, fiber.StatusGone, "This offer has ended", "The merchant no longer offers this item.")
	}
	return posted{tok: tok, secret: secret, hold: h, offer: offer}, true, nil
}

func (p *CheckoutPages) submit(c *fiber.Ctx) error {
	if p.isCartPost(c) {
		return p.submitCart(c)
	}
	post, ok, err := p.checkPost(c)
	if !ok {
		return err
	}
	ctx, tok, secret, h, offer := c.UserContext(), post.tok, post.secret, post.hold, post.offer
	form := p.submission(c, secret)
	next, order, err := p.Checkout.Submit(ctx, h, offer, form)
	var fe commerce.FieldErrors
	switch {
	case errors.As(err, &fe):
		return p.showHold(c, tok, fiber.StatusUnprocessableEntity, form, fe, "Please check the highlighted fields.")
	case errors.Is(err, commerce.ErrUsed):
		return p.orderState(c, order)
	case errors.Is(err, commerce.ErrExpired):
		return p.message(c, fiber.StatusGone, "This hold has ended",
			`The items are no longer held for you. Reply to the post again, or DM "buy", while stock lasts.`)
	case err != nil:
		p.Log.ErrorContext(ctx, "checkout failed", "hold", h.ID, "err", err)
		return p.showHold(c, tok, fiber.StatusServiceUnavailable, form, nil, "Something went wrong on our side. Your items are still held; please try again.")
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// submission is the details form as posted on a link's page.
func (p *CheckoutPages) submission(c *fiber.Ctx, secret string) commerce.Submission {
	return commerce.Submission{
		Shipping: commerce.Address{Name: c.FormValue("name"), Line1: c.FormValue("line1"), Line2: c.FormValue("line2"),
			City: c.FormValue("city"), Region: c.FormValue("region"), PostalCode: c.FormValue("postal_code"), Country: c.FormValue("country")},
		Contact:   commerce.Contact{Email: c.FormValue("email")},
		Save:      c.FormValue("save") == "1",
		ReturnURL: strings.TrimRight(p.PublicURL, "/") + "/checkout/" + secret + "/done",
		CancelURL: strings.TrimRight(p.PublicURL, "/") + "/checkout/" + secret,
	}
}

func (p *CheckoutPages) done(c *fiber.Ctx) error {
	tok, ok, err := p.resolve(c, commerce.LinkHold)
	if !ok {
		return err
	}
	o, err := p.linkOrder(c.UserContext(), tok)
	if errors.Is(err, commerce.ErrNotFound) || (err == nil && o.Status == commerce.OrderPending) {
		return p.message(c, fiber.StatusOK, "Payment not received yet",
			"If you just paid, this page shows your confirmation in a moment: reload it. Your items are still held.")
	}
	if err != nil {
		return err
	}
	return p.orderState(c, o)
}

func (p *CheckoutPages) orders(c *fiber.Ctx) error {
	tok, ok, err := p.resolve(c, commerce.LinkOrders)
	if !ok {
		return err
	}
	return p.showOrders(c, tok, "")
}

func (p *CheckoutPages) showOrders(c *fiber.Ctx, tok commerce.Token, alert string) error {
	ctx := c.UserContext()
	orders, err := p.Orders.BuyerOrders(ctx, tok.BuyerID)
	if err != nil {
		return err
	}
	secret := c.Params("token")
	v := pageView{Heading: "Your orders", Title: "Your orders", Action: "/orders/" + secret + "/forget", CSRF: p.csrf("orders", secret), Alert: alert}
	for _, o := range orders {
		ov := orderView{Reference: o.Reference(), Status: string(o.Status), Lines: orderLines(o), Total: o.Total.String()}
		for _, e := range o.Timeline {
			ov.Timeline = append(ov.Timeline, fmt.Sprintf("%s UTC · %s%s", e.At.UTC().Format("Jan 2 15:04"), e.Status, noteSuffix(e.Note)))
		}
		v.Orders = append(v.Orders, ov)
		if v.Merchant == "" {
			if m, ok := p.Catalog().Merchant(o.MerchantID); ok {
				v.Merchant = m.Name
			}
		}
	}
	if saved, err := p.Details.SavedDetails(ctx, tok.BuyerID); err == nil {
		parts := []string{"Address: " + saved.Shipping.Short()}
		if saved.Method != nil {
			parts = append(parts, saved.Method.Label())
		}
		v.Saved = strings.Join(parts, " · ")
	}
	return p.render(c, fiber.StatusOK, "orders", v)
}

func noteSuffix(n string) string {
	if n == "" {
		return ""
	}
	return " (" + n + ")"
}

func (p *CheckoutPages) forget(c *fiber.Ctx) error {
	tok, ok, err := p.resolve(c, commerce.LinkOrders)
	if !ok {
		return err
	}
	if !p.csrfOK(c, "orders", c.Params("token")) {
		return p.message(c, fiber.StatusForbidden, "Please try again", "This form has expired or did not come from your orders page.")
	}
	if err := p.Forget(c.UserContext(), tok.BuyerID, p.Now()); err != nil {
		return err
	}
	p.Log.InfoContext(c.UserContext(), "buyer details erased on request", "buyer", tok.BuyerID)
	return p.showOrders(c, tok, "Your saved details are removed.")
}

// change applies a new variant or quantity to the hold and shows the page
// again (or says why it cannot).
func (p *CheckoutPages) change(c *fiber.Ctx) error {
	post, ok, err := p.checkPost(c)
	if !ok {
		return err
	}
	ctx, tok, secret, h, offer := c.UserContext(), post.tok, post.secret, post.hold, post.offer
	qty, _ := strconv.Atoi(c.FormValue("quantity"))
	_, err = p.Shop.ChangeHold(ctx, h, offer, c.FormValue("variant"), qty)
	var le *commerce.LimitError
	switch {
	case err == nil:
		return c.Redirect("/checkout/"+secret, fiber.StatusSeeOther)
	case errors.As(err, &le):
		return p.showHold(c, tok, fiber.StatusUnprocessableEntity, commerce.Submission{}, nil, fmt.Sprintf("%s is limited to %d per customer.", offer.Title, le.Limit))
	case errors.Is(err, commerce.ErrSoldOut):
		return p.showHold(c, tok, fiber.StatusConflict, commerce.Submission{}, nil, "Sorry, not enough of that is left. Your order is unchanged.")
	case errors.Is(err, commerce.ErrExpired):
		return p.message(c, fiber.StatusGone, "This hold has ended",
			`The items are no longer held for you. Reply to the post again, or DM "buy", while stock lasts.`)
	case errors.Is(err, commerce.ErrQuantityTooLarge) || errors.Is(err, commerce.ErrVariantRequired):
		return p.showHold(c, tok, fiber.StatusUnprocessableEntity, commerce.Submission{}, nil, "Please choose from the list.")
	}
	return err
}

// payingHold is the minutes a hold with left to go is extended to when its
// payment starts (commerce extends it to the provider's shortest session),
// 0 when it is not extended.
func (p *CheckoutPages) payingHold(left time.Duration, free bool) int {
	if p.Checkout == nil || free {
		return 0
	}
	life := p.Checkout.Provider.MinSessionLife()
	if life <= left {
		return 0
	}
	return int(life.Minutes())
}
