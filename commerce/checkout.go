package commerce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Notifier tells buyers what happened to their orders. It is called inside
// the transaction that made the change, so it must only write (to the
// outbox), never talk to the outside world.
type Notifier interface {
	OrderPaid(ctx context.Context, o Order) error
	OrderRefunded(ctx context.Context, o Order) error
	// OneTapFailed tells the buyer a one-tap charge did not pay; key is
	// unique to the attempt (its task's key).
	OneTapFailed(ctx context.Context, key string, f OneTapFailure) error
}

// Checkout turns a hold and a buyer's details into an order and a payment.
type Checkout struct {
	Orders   OrderStore
	Details  DetailsStore
	Provider PaymentProvider
	// InTx runs fn in one transaction (storage.DB.InTx).
	InTx   func(ctx context.Context, fn func(ctx context.Context) error) error
	Notify Notifier
	// Handoff, when set, queues a paid order for its merchant, in the
	// payment's transaction.
	Handoff func(ctx context.Context, o Order) error
	// Tasks records provider calls decided in an event's transaction
	// (one-tap charges) for RunTask.
	Tasks TaskStore
	Now   func() time.Time
	Log   *slog.Logger
}

// Submission is what the buyer gave on the checkout page.
type Submission struct {
	Shipping Address
	Contact  Contact
	// Save keeps the address, contact and payment method for next time.
	Save bool
	// ReturnURL is the confirmation page; CancelURL the checkout page.
	ReturnURL, CancelURL string
}

// FieldErrors maps a form field to what is wrong with it.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return "invalid " + strings.Join(keys, ", ")
}

// Validate checks a submission for an offer: the fields a courier needs,
// an email address, and a country the offer ships to. Giveaways need the
// same address (something is shipped).
func (s *Submission) Validate(o *Offer) error {
	errs := FieldErrors{}
	trim := func(p *string) string { *p = strings.TrimSpace(*p); return *p }
	a := &s.Shipping
	if trim(&a.Name) == "" {
		errs["name"] = "Enter the name to ship to."
	}
	if trim(&a.Line1) == "" {
		errs["line1"] = "Enter the street address."
	}
	trim(&a.Line2)
	if trim(&a.City) == "" {
		errs["city"] = "Enter the city."
	}
	trim(&a.Region)
	if trim(&a.PostalCode) == "" {
		errs["postal_code"] = "Enter the postal code."
	}
	a.Country = strings.ToUpper(trim(&a.Country))
	switch {
	case !ValidCountry(a.Country):
		errs["country"] = "Choose a country."
	case o != nil && len(o.ShipTo) > 0 && !slices.Contains(o.ShipTo, a.Country):
		errs["country"] = "Sorry, this item does not ship there."
	}
	if e, err := mail.ParseAddress(trim(&s.Contact.Email)); err != nil || e.Address != s.Contact.Email {
		errs["email"] = "Enter an email address like name@example.com."
	}
	for field, v := range map[string]string{"name": a.Name, "line1": a.Line1, "line2": a.Line2, "city": a.City, "region": a.Region, "postal_code": a.PostalCode, "email": s.Contact.Email} {
		if len(v) > 200 {
			errs[field] = "That is too long."
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Submit places the order for an active hold and starts its payment; it
// returns where to send the buyer. A giveaway completes here: the claim is
// the payment. ErrExpired when the hold has ended, ErrUsed when its order
// is already paid.
func (c *Checkout) Submit(ctx context.Context, h Hold, o *Offer, s Submission) (string, Order, error) {
	return c.submit(ctx, []OrderHold{{Hold: h, Title: o.Title}}, []*Offer{o}, s)
}

// submit is Submit for one hold or a cart's holds (items[i] of offers[i]):
// one order, one payment for the total.
func (c *Checkout) submit(ctx context.Context, items []OrderHold, offers []*Offer, s Submission) (string, Order, error) {
	now := c.Now().UTC()
	h := items[0].Hold
	total := Money{Currency: h.UnitPrice.Currency}
	expires := h.ExpiresAt
	free := true
	for i, it := range items {
		if it.Hold.Status != HoldActive || !now.Before(it.Hold.ExpiresAt) {
			if existing, err := c.Orders.OrderForHold(ctx, h.ID); err == nil && existing.Status != OrderPending {
				return "", existing, ErrUsed
			}
			return "", Order{}, ErrExpired
		}
		total.Amount += it.Hold.Total().Amount
		expires = minTime(expires, it.Hold.ExpiresAt)
		free = free && offers[i].Free()
	}
	var err error
	if len(items) == 1 {
		err = s.Validate(offers[0])
	} else {
		err = s.ValidateFor(offers)
	}
	if err != nil {
		return "", Order{}, err
	}
	provider := c.Provider.Name()
	if free {
		provider = "free"
	}
	place := PlaceOrder{Hold: h, Title: items[0].Title, Shipping: s.Shipping, Contact: s.Contact, Provider: provider, Now: now}
	if len(items) > 1 || h.CartID != 0 {
		place.Items = items
	}
	if life := c.Provider.MinSessionLife(); !free && life > 0 && expires.Before(now.Add(life)) {
		// The provider's session cannot end with the hold: the hold ends
		// with the session instead (the stock stays reserved while the
		// buyer is on the provider's page; an expired session releases it).
		place.HoldUntil = now.Add(life).Truncate(time.Second)
		expires = place.HoldUntil
	}
	order, err := c.Orders.PlaceOrder(ctx, place)
	if err != nil {
		return "", Order{}, err
	}
	if order.Status != OrderPending {
		return "", order, ErrUsed
	}
	if s.Save {
		saved, err := c.Details.SavedDetails(ctx, h.BuyerID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return "", order, err
		}
		saved.Shipping, saved.Contact = s.Shipping, s.Contact
		if err := c.Details.SaveDetails(ctx, h.BuyerID, saved, now); err != nil {
			return "", order, fmt.Errorf("save details: %w", err)
		}
	}
	if free {
		if err := c.Apply(ctx, PaymentOutcome{EventID: "claim:" + order.Reference(), OrderID: order.ID, Paid: true, Now: now}); err != nil {
			return "", order, err
		}
		return s.ReturnURL, order, nil
	}
	desc := make([]string, len(items))
	for i, it := range items {
		desc[i] = describe(it.Hold, offers[i])
	}
	session, err := c.Provider.StartPayment(ctx, PaymentRequest{
		OrderID: order.ID, Reference: order.Reference(), BuyerID: h.BuyerID, Amount: total,
		Description: strings.Join(desc, ", "), Email: s.Contact.Email,
		ReturnURL: s.ReturnURL, CancelURL: s.CancelURL, ExpiresAt: expires, SaveMethod: s.Save,
	})
	if err != nil {
		return "", order, fmt.Errorf("start payment: %w", err)
	}
	return session.RedirectURL, order, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Apply applies a provider's outcome: the order, the hold, the stock, the
// saved payment method and the buyer's notification change together. A
// payment that came after its stock was gone is refunded with the
// provider once the change is committed.
func (c *Checkout) Apply(ctx context.Context, o PaymentOutcome) error {
	if o.Now.IsZero() {
		o.Now = c.Now().UTC()
	}
	var res PaymentResult
	err := c.InTx(ctx, func(ctx context.Context) error {
		var err error
		if res, err = c.Orders.ApplyPayment(ctx, o); err != nil || res.Duplicate {
			return err
		}
		if o.Paid && o.Method != nil {
			saved, err := c.Details.SavedDetails(ctx, res.Order.BuyerID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if err == nil {
				saved.Method = o.Method
				if err := c.Details.SaveDetails(ctx, res.Order.BuyerID, saved, o.Now); err != nil {
					return err
				}
			}
		}
		switch {
		case res.NeedsRefund:
			return c.Notify.OrderRefunded(ctx, res.Order)
		case o.Paid:
			if c.Handoff != nil {
				if err := c.Handoff(ctx, res.Order); err != nil {
					return err
				}
			}
			return c.Notify.OrderPaid(ctx, res.Order)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if res.NeedsRefund && !res.Duplicate && o.PaymentRef != "" {
		if err := c.Provider.Refund(ctx, o.PaymentRef, res.Order.Total, "refund:"+o.EventID); err != nil {
			c.Log.Error("refund failed; refund it by hand", "order", res.Order.Reference(), "payment", o.PaymentRef, "err", err)
			return fmt.Errorf("refund %s: %w", o.PaymentRef, err)
		}
	}
	return nil
}

// OneTap starts buying a hold with the buyer's saved address and payment
// method, without a page: the answer to "Buy ...? Reply YES". It places the
// pending order and records the charge as a provider task (TaskCharge), both
// in ctx's transaction (the YES event's): no network call is made here. The
// charge runs after the commit (RunTask); its outcome reaches the buyer as
// the order's confirmation DM or as a OneTapFailure (the link to finish on
// the page). requestID names the request (the event id): the same request
// records one task, and a later YES for the same order records another.
//
// It returns the pending order; ErrNotFound when nothing usable is saved,
// ErrNotShippable when the saved address is outside the offer's ship_to,
// ErrExpired or ErrUsed as Submit.
func (c *Checkout) OneTap(ctx context.Context, h Hold, o *Offer, requestID string) (Order, error) {
	now := c.Now().UTC()
	if h.Status != HoldActive || !now.Before(h.ExpiresAt) {
		if existing, err := c.Orders.OrderForHold(ctx, h.ID); err == nil && existing.Status != OrderPending {
			return existing, ErrUsed
		}
		return Order{}, ErrExpired
	}
	if c.Tasks == nil {
		return Order{}, fmt.Errorf("one-tap: no task store: %w", ErrInvalid)
	}
	saved, err := c.Details.SavedDetails(ctx, h.BuyerID)
	if err != nil {
		return Order{}, err
	}
	if saved.Method == nil || saved.Method.Provider != c.Provider.Name() || saved.Shipping.Line1 == "" {
		return Order{}, ErrNotFound
	}
	if len(o.ShipTo) > 0 && !slices.Contains(o.ShipTo, saved.Shipping.Country) {
		return Order{}, ErrNotShippable
	}
	order, err := c.Orders.PlaceOrder(ctx, PlaceOrder{Hold: h, Title: o.Title, Shipping: saved.Shipping, Contact: saved.Contact, Provider: c.Provider.Name(), Now: now})
	if err != nil {
		return Order{}, err
	}
	if order.Status != OrderPending {
		return order, ErrUsed
	}
	task := ProviderTask{Key: "charge:" + order.Reference() + ":" + requestID, Kind: TaskCharge, Provider: c.Provider.Name(),
		OrderID: order.ID, BuyerID: h.BuyerID, Deadline: h.ExpiresAt}
	if err := c.Tasks.EnqueueTask(ctx, task, now); err != nil {
		return order, err
	}
	return order, nil
}

// OneTapOffer says whether a buyer can buy with one tap (saved address and
// method from this provider) and, if so, the saved details to show.
func (c *Checkout) OneTapOffer(ctx context.Context, buyerID string, o *Offer) (SavedDetails, bool) {
	if o.Free() {
		return SavedDetails{}, false
	}
	saved, err := c.Details.SavedDetails(ctx, buyerID)
	if err != nil || saved.Method == nil || saved.Method.Provider != c.Provider.Name() || saved.Shipping.Line1 == "" {
		return SavedDetails{}, false
	}
	if len(o.ShipTo) > 0 && !slices.Contains(o.ShipTo, saved.Shipping.Country) {
		return SavedDetails{}, false
	}
	return saved, true
}

// describe names a hold for the payment page and the provider's receipt.
func describe(h Hold, o *Offer) string {
	s := fmt.Sprintf("%d × %s", h.Quantity, o.Title)
	if h.Variant != "" {
		s += " (" + h.Variant + ")"
	}
	return s
}
