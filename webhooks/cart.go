package webhooks

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/commerce"
)

// A cart's link (kind cart) opens, in turn:
//
//	GET  /checkout/{token}        the cart to review (open cart), then the
//	                              details form (checked out), then the order
//	POST /checkout/{token}/line   change a line's quantity, or remove it
//	POST /checkout/{token}/cart   check out: every line is held, or the page
//	                              names the lines that cannot be and offers
//	                              to go on without them
//	POST /checkout/{token}        the details: one order, one payment
//	GET  /checkout/{token}/done   the confirmation
//
// The forms share the hold page's CSRF token, headers and details form.

const cartHoldMessage = "It is paid together with the rest of your cart: open the link of your cart from your DM."

const cartEnded = `The items in your cart are no longer held for you. Reply #AddToCart on the posts again, or DM "cart", while stock lasts.`

// cartLineView is a line of a cart under review.
type cartLineView struct {
	ID                      int
	OfferID, Variant, Title string
	Amount                  string
	Quantities              []choice
}

// cartNotice is what the review page says after a post.
type cartNotice struct {
	Alert    string
	Problems []commerce.CartProblem
}

// linkOrder is the order placed through a link: its hold's, or its cart's.
func (p *CheckoutPages) linkOrder(ctx context.Context, tok commerce.Token) (commerce.Order, error) {
	if tok.Target.Kind == commerce.LinkCart {
		return p.Orders.OrderForCart(ctx, tok.Target.ID)
	}
	return p.Orders.OrderForHold(ctx, tok.Target.ID)
}

func (p *CheckoutPages) merchantName(id string) string {
	if m, ok := p.Catalog().Merchant(id); ok && m.Name != "" {
		return m.Name
	}
	return id
}

// isCartPost tells a post on a cart's link from one on a hold's, without
// answering: checkCartPost does the checks.
func (p *CheckoutPages) isCartPost(c *fiber.Ctx) bool {
	tok, err := p.Links.Resolve(c.UserContext(), c.Params("token"))
	return err == nil && tok.Target.Kind == commerce.LinkCart
}

// checkCartPost checks a post on a cart's page: the link works, the CSRF
// token matches, the cart is the link's buyer's. When ok is false the
// answer was sent and err is what to return.
func (p *CheckoutPages) checkCartPost(c *fiber.Ctx) (commerce.Token, commerce.Cart, bool, error) {
	tok, ok, err := p.resolve(c, commerce.LinkHold)
	if !ok {
		return tok, commerce.Cart{}, false, err
	}
	if tok.Target.Kind != commerce.LinkCart || !p.csrfOK(c, "checkout", c.Params("token")) {
		return tok, commerce.Cart{}, false, p.message(c, fiber.StatusForbidden, "Please try again", "This form has expired or did not come from your checkout page. Open the link from your DM again.")
	}
	cart, err := p.Store.Cart(c.UserContext(), tok.Target.ID)
	if errors.Is(err, commerce.ErrNotFound) || (err == nil && cart.BuyerID != tok.BuyerID) {
		return tok, cart, false, p.message(c, fiber.StatusNotFound, "This link doesn't work", `DM "cart" to get a fresh link to your cart.`)
	}
	if err != nil {
		return tok, cart, false, err
	}
	return tok, cart, true, nil
}

// showCart is the page of a cart's link, whatever became of the cart.
func (p *CheckoutPages) showCart(c *fiber.Ctx, tok commerce.Token, status int, n cartNotice) error {
	ctx := c.UserContext()
	cart, err := p.Store.Cart(ctx, tok.Target.ID)
	if errors.Is(err, commerce.ErrNotFound) || (err == nil && cart.BuyerID != tok.BuyerID) {
		return p.message(c, fiber.StatusNotFound, "This link doesn't work", `DM "cart" to get a fresh link to your cart.`)
	}
	if err != nil {
		return err
	}
	switch cart.Status {
	case commerce.CartCheckedOut:
		return p.showCartDetails(c, tok, cart, status, commerce.Submission{}, nil, n.Alert)
	case commerce.CartEmptied:
		return p.message(c, fiber.StatusGone, "This cart was emptied", "Reply #AddToCart on a post to start a new one.")
	}
	if len(cart.Lines) == 0 {
		return p.message(c, fiber.StatusOK, "Your cart is empty", "Reply #AddToCart on a post to add an item.")
	}
	secret := c.Params("token")
	cat := p.Catalog()
	v := pageView{Heading: "Your cart with " + p.merchantName(cart.MerchantID), Title: "Your cart", Merchant: p.merchantName(cart.MerchantID),
		Total: cart.Total().String(), Action: "/checkout/" + secret, CSRF: p.csrf("checkout", secret), Alert: n.Alert}
	for i, l := range cart.Lines {
		most := l.Quantity
		if o, ok := cat.Offer(cart.MerchantID, l.OfferID); ok {
			most = max(most, commerce.QuantityChoices(o))
		}
		lv := cartLineView{ID: i + 1, OfferID: l.OfferID, Variant: l.Variant, Title: l.Title, Amount: l.Total().String()}
		for q := 1; q <= most; q++ {
			lv.Quantities = append(lv.Quantities, choice{Value: strconv.Itoa(q), Selected: q == l.Quantity})
		}
		v.CartLines = append(v.CartLines, lv)
	}
	if len(n.Problems) > 0 {
		// Lines left out before stay out; the button leaves these out too,
		// if anything would remain.
		skip := map[string]bool{}
		for _, k := range c.Request().PostArgs().PeekMulti("skip") {
			skip[string(k)] = true
		}
		for _, pr := range n.Problems {
			v.Problems = append(v.Problems, problemText(pr))
			skip[pr.Line.Key()] = true
		}
		left, rest := 0, commerce.Money{Currency: cart.Total().Currency}
		for _, l := range cart.Lines {
			if !skip[l.Key()] {
				left++
				rest.Amount += l.Total().Amount
			}
		}
		v.RestTotal = rest.String()
		for _, l := range cart.Lines {
			if skip[l.Key()] && left > 0 {
				v.Skip = append(v.Skip, l.Key())
			}
		}
		if left == 0 {
			v.Problems = append(v.Problems, "Nothing else in your cart can be bought now.")
		}
	}
	return p.render(c, status, "cart", v)
}

// problemText says to the buyer why a line cannot be bought now.
func problemText(pr commerce.CartProblem) string {
	name := pr.Line.Title
	if pr.Line.Variant != "" {
		name += " (" + pr.Line.Variant + ")"
	}
	var le *commerce.LimitError
	switch {
	case errors.As(pr.Err, &le) && le.Remaining > 0:
		return fmt.Sprintf("%s is limited to %d per customer: you can take %d more. Lower the quantity to buy it.", name, le.Limit, le.Remaining)
	case errors.As(pr.Err, &le):
		return fmt.Sprintf("%s is limited to %d per customer, and you already have that many.", name, le.Limit)
	case errors.Is(pr.Err, commerce.ErrSoldOut):
		return fmt.Sprintf("%s is sold out (%d in your cart).", name, pr.Line.Quantity)
	case errors.Is(pr.Err, commerce.ErrNotOnSale):
		return name + " is not on sale yet."
	case errors.Is(pr.Err, commerce.ErrVariantRequired):
		return name + ": this variant is no longer offered."
	case errors.Is(pr.Err, commerce.ErrQuantityTooLarge):
		return name + ": that quantity is too large."
	}
	return name + " is no longer offered."
}

// showCartDetails is the details form of a checked-out cart (the hold
// page's form), or what became of its order.
func (p *CheckoutPages) showCartDetails(c *fiber.Ctx, tok commerce.Token, cart commerce.Cart, status int, form commerce.Submission, errs map[string]string, alert string) error {
	ctx := c.UserContext()
	if o, err := p.Orders.OrderForCart(ctx, cart.ID); err == nil && o.Status != commerce.OrderPending {
		return p.orderState(c, o)
	}
	holds, offers, err := p.cartHolds(ctx, cart)
	if err != nil {
		return err
	}
	now := p.Now()
	if len(holds) == 0 {
		return p.message(c, fiber.StatusGone, "This hold has ended", cartEnded)
	}
	total := commerce.Money{Currency: holds[0].UnitPrice.Currency}
	until := holds[0].ExpiresAt
	free := true
	v := pageView{}
	for i, h := range holds {
		if h.Status != commerce.HoldActive || !now.Before(h.ExpiresAt) {
			return p.message(c, fiber.StatusGone, "This hold has ended", cartEnded)
		}
		if offers[i] == nil {
			return p.message(c, fiber.StatusGone, "This offer has ended", "The merchant no longer offers "+h.OfferID+".")
		}
		total.Amount += h.Total().Amount
		if h.ExpiresAt.Before(until) {
			until = h.ExpiresAt
		}
		free = free && offers[i].Free()
		v.Lines = append(v.Lines, holdLines(h, offers[i].Title)...)
	}
	shipTo := commerce.ShipsTo(offers)
	if form == (commerce.Submission{}) {
		if saved, err := p.Details.SavedDetails(ctx, cart.BuyerID); err == nil {
			form.Shipping, form.Contact = saved.Shipping, saved.Contact
		}
		form.Save = true
		if form.Shipping.Country == "" && len(shipTo) > 0 {
			form.Shipping.Country = shipTo[0]
		}
	}
	countries := shipTo
	if shipTo == nil {
		countries = commerce.Countries()
	}
	secret := c.Params("token")
	merchant := p.merchantName(cart.MerchantID)
	v.Heading, v.Title, v.Merchant = "Check out with "+merchant, "Your cart", merchant
	v.Total, v.Action, v.CSRF = total.String(), "/checkout/"+secret, p.csrf("checkout", secret)
	v.HoldUntil, v.MinutesLeft = until.UTC().Format("15:04"), int(until.Sub(now).Minutes()+0.5)
	v.Form, v.Errors, v.Alert, v.Free = form, errs, alert, free
	v.PayingHold = p.payingHold(until.Sub(now), free)
	v.Countries = countryOptions(countries, form.Shipping.Country)
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	if len(shipTo) == 0 && shipTo != nil && v.Alert == "" {
		v.Alert = "These items do not ship to one common country: please buy them separately."
	}
	return p.render(c, status, "checkout", v)
}

// cartHolds returns a checked-out cart's holds and their offers (nil for
// an offer no longer in the catalog).
func (p *CheckoutPages) cartHolds(ctx context.Context, cart commerce.Cart) ([]commerce.Hold, []*commerce.Offer, error) {
	holds, err := p.Store.CartHolds(ctx, cart.ID)
	if err != nil {
		return nil, nil, err
	}
	offers := make([]*commerce.Offer, len(holds))
	for i, h := range holds {
		offers[i], _ = p.offer(h)
	}
	return holds, offers, nil
}

// checkOutCart holds the cart's lines (all, or all but those the buyer
// chose to leave out) and goes on to the details form.
func (p *CheckoutPages) checkOutCart(c *fiber.Ctx) error {
	tok, cart, ok, err := p.checkCartPost(c)
	if !ok {
		return err
	}
	skip := map[string]bool{}
	for _, k := range c.Request().PostArgs().PeekMulti("skip") {
		skip[string(k)] = true
	}
	_, err = p.Shop.CheckOutCart(c.UserContext(), cart, p.Catalog(), skip)
	var ce *commerce.CartCheckoutError
	switch {
	case err == nil:
		return c.Redirect("/checkout/"+c.Params("token"), fiber.StatusSeeOther)
	case errors.As(err, &ce):
		return p.showCart(c, tok, fiber.StatusConflict, cartNotice{
			Alert:    "Some items can't be bought now. Nothing has been charged or held.",
			Problems: ce.Problems,
		})
	case errors.Is(err, commerce.ErrInvalid):
		return p.showCart(c, tok, fiber.StatusUnprocessableEntity, cartNotice{Alert: "Nothing is left in your cart to check out."})
	case errors.Is(err, commerce.ErrNotFound):
		return p.showCart(c, tok, fiber.StatusConflict, cartNotice{})
	}
	p.Log.Error("cart checkout failed", "cart", cart.ID, "err", err)
	return p.showCart(c, tok, fiber.StatusServiceUnavailable, cartNotice{Alert: "Something went wrong on our side. Nothing is held; please try again."})
}

// changeCartLine sets a line's quantity, or removes it, before checkout.
func (p *CheckoutPages) changeCartLine(c *fiber.Ctx) error {
	tok, cart, ok, err := p.checkCartPost(c)
	if !ok {
		return err
	}
	qty, err := strconv.Atoi(c.FormValue("quantity"))
	if c.FormValue("remove") == "1" {
		qty, err = 0, nil
	}
	if err != nil {
		return p.showCart(c, tok, fiber.StatusUnprocessableEntity, cartNotice{Alert: "Please choose a quantity from the list."})
	}
	_, err = p.Shop.ChangeCartLine(c.UserContext(), cart, p.Catalog(), c.FormValue("offer"), c.FormValue("variant"), qty)
	var le *commerce.LimitError
	switch {
	case err == nil, errors.Is(err, commerce.ErrUsed):
		// A checked-out cart shows its details form instead.
		return c.Redirect("/checkout/"+c.Params("token"), fiber.StatusSeeOther)
	case errors.As(err, &le):
		return p.showCart(c, tok, fiber.StatusUnprocessableEntity, cartNotice{Alert: fmt.Sprintf("That item is limited to %d per customer.", le.Limit)})
	case errors.Is(err, commerce.ErrQuantityTooLarge), errors.Is(err, commerce.ErrNotFound):
		return p.showCart(c, tok, fiber.StatusUnprocessableEntity, cartNotice{Alert: "Please choose from the list."})
	}
	return err
}

// submitCart places the cart's one order and starts its one payment.
func (p *CheckoutPages) submitCart(c *fiber.Ctx) error {
	tok, cart, ok, err := p.checkCartPost(c)
	if !ok {
		return err
	}
	ctx, secret := c.UserContext(), c.Params("token")
	if cart.Status == commerce.CartOpen {
		return c.Redirect("/checkout/"+secret, fiber.StatusSeeOther) // not checked out yet
	}
	holds, offers, err := p.cartHolds(ctx, cart)
	if err != nil {
		return err
	}
	for _, o := range offers {
		if o == nil {
			return p.message(c, fiber.StatusGone, "This offer has ended", "The merchant no longer offers an item of your cart.")
		}
	}
	form := p.submission(c, secret)
	next, order, err := p.Checkout.SubmitCart(ctx, holds, offers, form)
	var fe commerce.FieldErrors
	switch {
	case errors.As(err, &fe):
		return p.showCartDetails(c, tok, cart, fiber.StatusUnprocessableEntity, form, fe, "Please check the highlighted fields.")
	case errors.Is(err, commerce.ErrUsed):
		return p.orderState(c, order)
	case errors.Is(err, commerce.ErrExpired), errors.Is(err, commerce.ErrInvalid):
		return p.message(c, fiber.StatusGone, "This hold has ended", cartEnded)
	case err != nil:
		p.Log.Error("cart checkout failed", "cart", cart.ID, "err", err)
		return p.showCartDetails(c, tok, cart, fiber.StatusServiceUnavailable, form, nil, "Something went wrong on our side. Your items are still held; please try again.")
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}
