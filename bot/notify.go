package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
)

// Notifier tells buyers by DM what happened to their orders. It implements
// commerce.Notifier: each message goes to the outbox in the transaction of
// the change, under a key of the order and the news, so an order is
// confirmed exactly once.
type Notifier struct {
	Catalog   func() *commerce.Catalog
	Outbox    Outbox
	Templates *Templates
}

var _ commerce.Notifier = (*Notifier)(nil)

// OrderPaid implements commerce.Notifier.
func (n *Notifier) OrderPaid(ctx context.Context, o commerce.Order) error {
	return n.send(ctx, o, "dm_order_paid", outbox.PriorityConfirmation)
}

// OrderRefunded implements commerce.Notifier.
func (n *Notifier) OrderRefunded(ctx context.Context, o commerce.Order) error {
	return n.send(ctx, o, "dm_order_refunded", outbox.PriorityConfirmation)
}

// OneTapFailed implements commerce.Notifier: the buyer gets the hold's
// link to finish on the page, with the reason in plain words, or word that
// the hold has ended.
func (n *Notifier) OneTapFailed(ctx context.Context, key string, f commerce.OneTapFailure) error {
	o := f.Order
	m, ok := n.Catalog().Merchant(o.MerchantID)
	if !ok {
		return fmt.Errorf("order %s: merchant %q is not configured", o.Reference(), o.MerchantID)
	}
	msg := outbox.Message{MerchantID: m.ID, Kind: outbox.KindDM, Priority: outbox.PriorityCheckout, RecipientID: o.BuyerID}
	name := "dm_onetap_failed"
	d := PrivateData{Merchant: m.ScreenName, Method: "your saved card", Link: outbox.LinkPlaceholder}
	if f.Method != nil {
		d.Method = f.Method.Label()
	}
	switch {
	case errors.Is(f.Err, commerce.ErrExpired):
		name, d.Link = "dm_hold_ended", ""
	case errors.Is(f.Err, commerce.ErrAuthenticationRequired):
		d.Reason = "it needs your confirmation."
	case errors.Is(f.Err, commerce.ErrUnavailable):
		d.Reason = "we couldn't reach the payment provider."
	default:
		d.Reason = "your saved details can't be used for this order."
	}
	if name == "dm_onetap_failed" {
		msg.Link = &outbox.Link{BuyerID: o.BuyerID, Target: commerce.LinkTarget{Kind: commerce.LinkHold, ID: o.HoldID}, ExpiresAt: f.HoldEnds}
	}
	text, err := n.Templates.Private(m.ID, name, d)
	if err != nil {
		return err
	}
	msg.Key, msg.Text = key+":"+name, text
	return n.Outbox.Enqueue(ctx, msg)
}

func (n *Notifier) send(ctx context.Context, o commerce.Order, name string, priority int) error {
	m, ok := n.Catalog().Merchant(o.MerchantID)
	if !ok {
		return fmt.Errorf("order %s: merchant %q is not configured", o.Reference(), o.MerchantID)
	}
	shipTo := ""
	if o.Shipping.City != "" {
		shipTo = o.Shipping.Short()
	}
	text, err := n.Templates.Private(m.ID, name, PrivateData{
		Merchant: m.ScreenName, Reference: o.Reference(), Items: orderItems(o), Total: o.Total.String(), ShipTo: shipTo,
	})
	if err != nil {
		return err
	}
	return n.Outbox.Enqueue(ctx, outbox.Message{
		Key: fmt.Sprintf("order:%d:%s", o.ID, name), MerchantID: m.ID, Kind: outbox.KindDM, Priority: priority,
		RecipientID: o.BuyerID, Text: text,
	})
}

func orderItems(o commerce.Order) string {
	items := make([]string, len(o.Lines))
	for i, l := range o.Lines {
		items[i] = item(l.Quantity, l.Title, l.Variant)
	}
	return strings.Join(items, ", ")
}
