package bot

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"sync"
	"text/template"
)

// Answer templates. Public replies are rendered with PublicData, which has
// no link, amount or address in it, so no template (a merchant's included)
// can put personal data in public. DMs are rendered with PrivateData.
var defaultTemplates = map[string]string{
	// Public replies.
	"reply_check_dms":      `@{{.Handle}} Got it! Check your DMs for your private checkout link.`,
	"reply_dm_closed":      `@{{.Handle}} We couldn't DM you. Send @{{.Merchant}} a DM saying "buy" and we'll continue privately.`,
	"reply_cart":           `@{{.Handle}} Added to your cart! Check your DMs.`,
	"reply_cart_dm_closed": `@{{.Handle}} Added to your cart! Send @{{.Merchant}} a DM saying "cart" to see it and check out.`,
	"reply_sold_out":       `@{{.Handle}} Sorry, {{.Title}} is sold out. You're on the waitlist: if one frees up, we'll DM you.`,
	"reply_not_on_sale":    `@{{.Handle}} {{.Title}} goes on sale {{.StartsAt}}. Reply again then!`,
	"reply_ended":          `@{{.Handle}} Sorry, {{.Title}} is no longer available.`,
	"reply_over_limit":     `@{{.Handle}} {{.Title}} is limited to {{.Limit}} per customer{{if .Remaining}}; you can still get {{.Remaining}}{{end}}.`,
	"reply_choose_variant": `@{{.Handle}} Which {{.Title}} would you like: {{.Choices}}? Reply again with the tag and your choice.`,
	"reply_choose_offer":   `@{{.Handle}} Which one would you like: {{.Choices}}? Reply again with the tag and its keyword.`,
	"reply_too_many":       `@{{.Handle}} That's more than we can take in one order. Try a smaller quantity.`,
	"post_sold_out":        `{{.Title}} is sold out. Everyone who replied is on the waitlist, in order: if one frees up, we'll DM you.`,

	// Direct messages.
	"dm_checkout":           `{{.Quantity}} × {{.Title}}{{if .Variant}} ({{.Variant}}){{end}}: {{.Total}}. Held for you for {{.HoldFor}}. Check out securely here: {{.Link}}`,
	"dm_checkout_onetap":    `{{.Quantity}} × {{.Title}}{{if .Variant}} ({{.Variant}}){{end}} for {{.Total}} with {{.Method}}, shipping to {{.ShipTo}}? Reply YES within {{.HoldFor}} to buy it. Or check out here: {{.Link}}`,
	"dm_onetap_failed":      `We couldn't charge {{.Method}}: {{.Reason}} Your items are still held; finish here: {{.Link}}`,
	"dm_hold_ended":         `Your hold has ended, so nothing was charged. Reply to the post again while stock lasts.`,
	"dm_waitlist_turn":      `Good news: {{.Quantity}} × {{.Title}}{{if .Variant}} ({{.Variant}}){{end}} freed up and it's yours: {{.Total}}, held for {{.HoldFor}}. Check out here: {{.Link}}`,
	"dm_reminder_cart":      `Still thinking it over? Your cart: {{.Cart}}, {{.CartTotal}} in all. Check out here: {{.Link}} (Send "stop" for no more reminders.)`,
	"dm_reminder_hold":      `{{.Quantity}} × {{.Title}}{{if .Variant}} ({{.Variant}}){{end}} is still waiting for you: {{.Total}}, held for {{.HoldFor}}. Check out here: {{.Link}} (Send "stop" for no more reminders.)`,
	"dm_claim":              `{{.Quantity}} × {{.Title}}{{if .Variant}} ({{.Variant}}){{end}} is yours to claim, free. Held for {{.HoldFor}}. Claim it here: {{.Link}}`,
	"dm_cart":               `Added {{.Quantity}} × {{.Title}}{{if .Variant}} ({{.Variant}}){{end}}. Your cart: {{.Cart}}, {{.CartTotal}} in all. Check out here: {{.Link}}`,
	"dm_cart_view":          `Your cart: {{.Cart}}, {{.CartTotal}} in all. Check out here: {{.Link}}`,
	"dm_cart_empty":         `Your cart with {{.Merchant}} is empty. Reply #AddToCart to a post to add something.`,
	"dm_cart_emptied":       `Your cart with {{.Merchant}} is empty now. No more reminders about it.`,
	"dm_orders":             `Your orders with {{.Merchant}} and your saved details, for the next hour: {{.Link}}`,
	"dm_order_paid":         `Order {{.Reference}} is confirmed: {{.Items}}, {{.Total}}.{{if .ShipTo}} Shipping to {{.ShipTo}}.{{end}} Thank you!`,
	"dm_order_refunded":     `Sorry! {{.Items}} sold out before your payment arrived, so we refunded {{.Total}} (order {{.Reference}}).`,
	"dm_buy_none":           `You have nothing on hold with {{.Merchant}} right now. Reply #BuyNow to one of our posts to get a checkout link.`,
	"dm_stop":               `Reminders are off. Send "start" to turn them back on.`,
	"dm_start":              `Reminders are on. Send "stop" to turn them off.`,
	"dm_forget_ask":         `This erases your saved details with us (contact, address, saved payment method). Reply YES within 10 minutes to confirm.`,
	"dm_forget_done":        `Done: your saved details are erased.`,
	"dm_nothing_to_confirm": `There's nothing waiting for a yes right now. Send "help" to see what you can do.`,
	"dm_help":               `Hi! Reply #BuyNow to one of our posts to buy, or #AddToCart to add it to a cart. Here you can send: buy (your checkout link), cart, empty (clear the cart), orders, stop / start (reminders), forget (erase your saved details), help.`,
	"dm_unknown":            `Sorry, I didn't get that. Send "help" to see what you can do.`,
}

// publicTemplates are the names rendered with PublicData.
func isPublic(name string) bool {
	return strings.HasPrefix(name, "reply_") || strings.HasPrefix(name, "post_")
}

// PublicData is what a public reply or post may say: nothing private.
type PublicData struct {
	Handle    string // the buyer's @handle, without '@'
	Merchant  string // the merchant's @handle
	Title     string
	Variant   string
	Limit     int
	Remaining int
	StartsAt  string
	Choices   string
}

// PrivateData is what a DM may say.
type PrivateData struct {
	Handle    string
	Merchant  string
	Title     string
	Variant   string
	Quantity  int
	Total     string
	HoldFor   string
	Link      string // the outbox's link placeholder, replaced at send time
	Cart      string
	CartTotal string
	Reference string // an order's reference, HC-000123
	Items     string // an order's items
	ShipTo    string // city and region only, never the street
	Method    string // a saved payment method: "Visa ending 4242"
	Reason    string // why a charge failed, for the buyer
}

// Templates renders answers for merchants: defaults, overridden per
// merchant.
type Templates struct {
	mu   sync.RWMutex
	sets map[string]*template.Template // merchant id -> templates ("" = defaults)
}

// Replace makes t render as from does, from now on: a configuration
// reload swaps the answers of a running bot this way. Renders in flight
// finish with the old texts.
func (t *Templates) Replace(from *Templates) {
	from.mu.RLock()
	sets := from.sets
	from.mu.RUnlock()
	t.mu.Lock()
	t.sets = sets
	t.mu.Unlock()
}

// NewTemplates parses the defaults and each merchant's overrides
// (merchant id -> template name -> text). Every template is rendered once
// with sample data, so a template that uses a field it cannot have (a
// link in a public reply) is refused here, at start, not when a shopper
// replies.
func NewTemplates(overrides map[string]map[string]string) (*Templates, error) {
	t := &Templates{sets: map[string]*template.Template{}}
	build := func(merchant string, over map[string]string) error {
		root := template.New("").Option("missingkey=error")
		names := make([]string, 0, len(defaultTemplates))
		for name := range defaultTemplates {
			names = append(names, name)
		}
		sort.Strings(names)
		for name := range over {
			if _, ok := defaultTemplates[name]; !ok {
				return fmt.Errorf("merchant %q: unknown template %q (known: %s)", merchant, name, strings.Join(names, ", "))
			}
		}
		for _, name := range names {
			text := defaultTemplates[name]
			if o, ok := over[name]; ok {
				text = o
			}
			if _, err := root.New(name).Parse(text); err != nil {
				return fmt.Errorf("merchant %q: template %s: %w", merchant, name, err)
			}
		}
		for _, name := range names {
			var data any = PrivateData{}
			if isPublic(name) {
				data = PublicData{}
			}
			if err := root.ExecuteTemplate(&bytes.Buffer{}, name, data); err != nil {
				return fmt.Errorf("merchant %q: template %s: %w", merchant, name, err)
			}
		}
		t.sets[merchant] = root
		return nil
	}
	if err := build("", nil); err != nil {
		return nil, err
	}
	for m, over := range overrides {
		if len(over) == 0 {
			continue
		}
		if err := build(m, over); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Public renders a public template for a merchant.
func (t *Templates) Public(merchant, name string, d PublicData) (string, error) {
	if !isPublic(name) {
		return "", fmt.Errorf("template %s is not public", name)
	}
	return t.render(merchant, name, d)
}

// Private renders a DM template for a merchant.
func (t *Templates) Private(merchant, name string, d PrivateData) (string, error) {
	if isPublic(name) {
		return "", fmt.Errorf("template %s is public", name)
	}
	return t.render(merchant, name, d)
}

func (t *Templates) render(merchant, name string, data any) (string, error) {
	t.mu.RLock()
	set, ok := t.sets[merchant]
	if !ok {
		set = t.sets[""]
	}
	t.mu.RUnlock()
	var b bytes.Buffer
	if err := set.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()), nil
}
