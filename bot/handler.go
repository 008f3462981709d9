package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/inbox"
)

// Outbox stores messages to X in the caller's transaction.
type Outbox interface {
	Enqueue(ctx context.Context, msgs ...outbox.Message) error
}

// Stores the bot reads and changes, beyond the Shop.
type Stores interface {
	commerce.BuyerStore
	Hold(ctx context.Context, id int64) (commerce.Hold, error)
	LatestActiveHold(ctx context.Context, merchantID, buyerID string, now time.Time) (commerce.Hold, error)
	OpenCart(ctx context.Context, merchantID, buyerID string) (commerce.Cart, error)
	EmptyCart(ctx context.Context, merchantID, buyerID string, now time.Time) (bool, error)
}

// Bot decides what to answer to replies, mentions and DMs, and writes the
// answers to the outbox. It implements inbox.Handler: everything it does
// goes through stores called with the event's context, so it commits with
// the event or not at all.
type Bot struct {
	// Catalog returns the offers in force (it may change on reload).
	Catalog   func() *commerce.Catalog
	Shop      *commerce.Shop
	Stores    Stores
	Outbox    Outbox
	Templates *Templates
	// Checkout, when set, lets a returning buyer with saved details buy
	// with one "YES" by DM.
	Checkout *commerce.Checkout
	// CartLinkTTL is how long a cart link stays valid.
	CartLinkTTL time.Duration
	Now         func() time.Time
	Log         *slog.Logger
	// Replies, when set, records each reply matched to one offer (the
	// merchant page's funnel), in the event's transaction.
	Replies ReplyLog
}

var _ inbox.Handler = (*Bot)(nil)

// ReplyLog records replies matched to an offer; recording the same event
// twice counts it once.
type ReplyLog interface {
	RecordReply(ctx context.Context, r commerce.Reply) error
}

// recordReply records a reply to o, when a log is set.
func (b *Bot) recordReply(ctx context.Context, ev inbox.Event, o *commerce.Offer, buyer commerce.Buyer, intent commerce.Intent) error {
	if b.Replies == nil {
		return nil
	}
	return b.Replies.RecordReply(ctx, commerce.Reply{EventID: ev.ID, MerchantID: o.MerchantID, OfferID: o.ID, BuyerID: buyer.XUserID, Intent: intent, At: b.Now().UTC()})
}

// HandleEvent implements inbox.Handler.
func (b *Bot) HandleEvent(ctx context.Context, ev inbox.Event) error {
	cat := b.Catalog()
	m, ok := cat.MerchantByXUserID(ev.ForUserID)
	if !ok {
		b.Log.Info("event for an account no longer configured", "event_id", ev.ID, "for_user_id", ev.ForUserID)
		return nil
	}
	switch ev.Kind {
	case inbox.KindTweetCreate:
		var t tweet
		if err := json.Unmarshal(ev.Payload, &t); err != nil {
			b.Log.Warn("unreadable post skipped", "event_id", ev.ID, "err", err)
			return nil
		}
		return b.onPost(ctx, ev, cat, m, t)
	case inbox.KindDirectMessage:
		var d dmEvent
		if err := json.Unmarshal(ev.Payload, &d); err != nil {
			b.Log.Warn("unreadable DM skipped", "event_id", ev.ID, "err", err)
			return nil
		}
		users := map[string]struct {
			ScreenName string `json:"screen_name"`
		}{}
		_ = json.Unmarshal(ev.Users, &users)
		return b.onDM(ctx, ev, cat, m, d, users[d.MessageCreate.SenderID].ScreenName)
	}
	return nil
}

// tweet is the part of an Account Activity tweet_create event we read.
type tweet struct {
	ID            string `json:"id_str"`
	Text          string `json:"text"`
	FullText      string `json:"full_text"`
	ExtendedTweet *struct {
		FullText string `json:"full_text"`
	} `json:"extended_tweet"`
	InReplyTo string `json:"in_reply_to_status_id_str"`
	User      struct {
		ID         string `json:"id_str"`
		ScreenName string `json:"screen_name"`
	} `json:"user"`
	Retweeted     json.RawMessage `json:"retweeted_status"`
	Quoted        json.RawMessage `json:"quoted_status"`
	IsQuoteStatus bool            `json:"is_quote_status"`
}

func (t tweet) text() string {
	if t.ExtendedTweet != nil && t.ExtendedTweet.FullText != "" {
		return t.ExtendedTweet.FullText
	}
	if t.FullText != "" {
		return t.FullText
	}
	return t.Text
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// dmEvent is the part of a direct_message_events item we read.
type dmEvent struct {
	Type          string `json:"type"`
	ID            string `json:"id"`
	MessageCreate struct {
		Target struct {
			RecipientID string `json:"recipient_id"`
		} `json:"target"`
		SenderID    string `json:"sender_id"`
		MessageData struct {
			Text string `json:"text"`
		} `json:"message_data"`
	} `json:"message_create"`
}

// answer is one message the bot decided on.
type answer struct {
	ev       inbox.Event
	merchant *commerce.Merchant
}

func (a answer) key(purpose string) string { return a.ev.ID + ":" + purpose }

func (b *Bot) onPost(ctx context.Context, ev inbox.Event, cat *commerce.Catalog, m *commerce.Merchant, t tweet) error {
	if t.User.ID == "" || t.User.ID == m.XUserID || present(t.Retweeted) || present(t.Quoted) || t.IsQuoteStatus {
		return nil // our own posts, retweets and quotes are not orders
	}
	post := Parse(t.text())
	if len(post.Tags) == 0 {
		return nil
	}
	buyer := commerce.Buyer{XUserID: t.User.ID, ScreenName: t.User.ScreenName}
	a := answer{ev: ev, merchant: m}
	pub := PublicData{Handle: buyer.ScreenName, Merchant: m.ScreenName}
	reply := func(name string, d PublicData) error {
		return b.reply(ctx, a, t.ID, name, d, outbox.PriorityNotice, "", nil)
	}

	match, err := cat.Match(commerce.Request{MerchantID: m.ID, InReplyTo: t.InReplyTo, Tags: post.Tags, Words: post.Words, Quantity: post.Quantity})
	var me *commerce.MatchError
	switch {
	case errors.Is(err, commerce.ErrNoMatch):
		return nil
	case errors.As(err, &me) && errors.Is(err, commerce.ErrVariantRequired):
		if err := b.recordReply(ctx, ev, me.Offer, buyer, 0); err != nil {
			return err
		}
		pub.Title = me.Offer.Title
		pub.Choices = variantChoices(me.Offer)
		return reply("reply_choose_variant", pub)
	case errors.As(err, &me) && errors.Is(err, commerce.ErrAmbiguous):
		pub.Choices = offerChoices(me.Candidates)
		return reply("reply_choose_offer", pub)
	case err != nil:
		return err
	}
	if err := b.recordReply(ctx, ev, match.Offer, buyer, match.Intent); err != nil {
		return err
	}
	o := match.Offer
	pub.Title, pub.Variant = o.Title, match.Variant

	var hold commerce.Hold
	var cart commerce.Cart
	if match.Intent == commerce.IntentCart {
		cart, err = b.Shop.AddToCart(ctx, match, buyer)
	} else {
		hold, _, err = b.Shop.Buy(ctx, match, buyer)
	}
	var le *commerce.LimitError
	switch {
	case errors.Is(err, commerce.ErrSoldOut):
		if b.Shop.Waitlist != nil {
			if _, err := b.Shop.JoinWaitlist(ctx, match, buyer, t.ID); err != nil {
				return err
			}
		}
		collapse, cerr := b.soldOutPost(a, o)
		if cerr != nil {
			return cerr
		}
		return b.reply(ctx, a, t.ID, "reply_sold_out", pub, outbox.PrioritySoldOut, "soldout:"+o.MerchantID+"/"+o.ID, collapse)
	case errors.Is(err, commerce.ErrNotOnSale):
		pub.StartsAt = o.StartsAt.UTC().Format("Jan 2 at 15:04 UTC")
		return reply("reply_not_on_sale", pub)
	case errors.Is(err, commerce.ErrEnded):
		return reply("reply_ended", pub)
	case errors.As(err, &le):
		pub.Limit, pub.Remaining = le.Limit, le.Remaining
		return reply("reply_over_limit", pub)
	case errors.Is(err, commerce.ErrQuantityTooLarge):
		return reply("reply_too_many", pub)
	case err != nil:
		return err
	}

	if match.Intent == commerce.IntentCart {
		return b.cartAnswer(ctx, a, buyer, t.ID, o, match, cart)
	}
	return b.checkoutAnswer(ctx, a, buyer, t.ID, o, hold)
}

// checkoutAnswer DMs the link to a hold; once the DM is out, a public reply
// says to look at the DMs. If the buyer does not accept DMs, the public
// reply asks them to DM "buy" instead.
func (b *Bot) checkoutAnswer(ctx context.Context, a answer, buyer commerce.Buyer, replyTo string, o *commerce.Offer, h commerce.Hold) error {
	dm, err := b.holdDM(a, buyer, o, h, "dm_checkout")
	if err != nil {
		return err
	}
	if b.Checkout != nil {
		if saved, ok := b.Checkout.OneTapOffer(ctx, buyer.XUserID, o); ok {
			// A returning buyer: offer the one-tap buy, with the link as
			// the way to change anything.
			dm.Text, err = b.Templates.Private(a.merchant.ID, "dm_checkout_onetap", PrivateData{
				Handle: buyer.ScreenName, Merchant: a.merchant.ScreenName, Title: o.Title, Variant: h.Variant,
				Quantity: h.Quantity, Total: h.Total().String(), HoldFor: humanDuration(h.ExpiresAt.Sub(b.Now())),
				Link: outbox.LinkPlaceholder, Method: saved.Method.Label(), ShipTo: saved.Shipping.Short(),
			})
			if err != nil {
				return err
			}
			if err := b.Stores.AskQuestion(ctx, buyer, buyQuestion(h.ID), h.ExpiresAt); err != nil {
				return err
			}
		}
	}
	pub := PublicData{Handle: buyer.ScreenName, Merchant: a.merchant.ScreenName, Title: o.Title}
	if replyTo != "" {
		if dm.OnSent, err = b.replyMessage(a, replyTo, "reply_check_dms", pub, outbox.PriorityCheckout); err != nil {
			return err
		}
		if dm.OnDMClosed, err = b.replyMessage(a, replyTo, "reply_dm_closed", pub, outbox.PriorityCheckout); err != nil {
			return err
		}
	}
	return b.Outbox.Enqueue(ctx, dm)
}

func (b *Bot) holdDM(a answer, buyer commerce.Buyer, o *commerce.Offer, h commerce.Hold, purpose string) (outbox.Message, error) {
	name := "dm_checkout"
	if o != nil && o.Free() {
		name = "dm_claim"
	}
	title := h.OfferID
	if o != nil {
		title = o.Title
	}
	text, err := b.Templates.Private(a.merchant.ID, name, PrivateData{
		Handle: buyer.ScreenName, Merchant: a.merchant.ScreenName, Title: title, Variant: h.Variant,
		Quantity: h.Quantity, Total: h.Total().String(), HoldFor: humanDuration(h.ExpiresAt.Sub(b.Now())),
		Link: outbox.LinkPlaceholder,
	})
	if err != nil {
		return outbox.Message{}, err
	}
	return outbox.Message{
		Key: a.key(purpose), MerchantID: a.merchant.ID, Kind: outbox.KindDM, Priority: outbox.PriorityCheckout,
		RecipientID: buyer.XUserID, Text: text,
		Link: &outbox.Link{BuyerID: buyer.XUserID, Target: commerce.LinkTarget{Kind: commerce.LinkHold, ID: h.ID}, ExpiresAt: h.ExpiresAt},
	}, nil
}

func (b *Bot) cartAnswer(ctx context.Context, a answer, buyer commerce.Buyer, replyTo string, o *commerce.Offer, m commerce.Match, c commerce.Cart) error {
	text, err := b.Templates.Private(a.merchant.ID, "dm_cart", PrivateData{
		Handle: buyer.ScreenName, Merchant: a.merchant.ScreenName, Title: o.Title, Variant: m.Variant, Quantity: m.Quantity,
		Cart: cartSummary(c), CartTotal: c.Total().String(), Link: outbox.LinkPlaceholder,
	})
	if err != nil {
		return err
	}
	dm := outbox.Message{
		Key: a.key("dm_cart"), MerchantID: a.merchant.ID, Kind: outbox.KindDM, Priority: outbox.PriorityCheckout,
		RecipientID: buyer.XUserID, Text: text,
		Link: &outbox.Link{BuyerID: buyer.XUserID, Target: commerce.LinkTarget{Kind: commerce.LinkCart, ID: c.ID}, ExpiresAt: b.Now().Add(b.CartLinkTTL)},
	}
	pub := PublicData{Handle: buyer.ScreenName, Merchant: a.merchant.ScreenName, Title: o.Title}
	if dm.OnSent, err = b.replyMessage(a, replyTo, "reply_cart", pub, outbox.PriorityNotice); err != nil {
		return err
	}
	if dm.OnDMClosed, err = b.replyMessage(a, replyTo, "reply_cart_dm_closed", pub, outbox.PriorityNotice); err != nil {
		return err
	}
	return b.Outbox.Enqueue(ctx, dm)
}

func (b *Bot) replyMessage(a answer, replyTo, name string, d PublicData, priority int) (*outbox.Message, error) {
	text, err := b.Templates.Public(a.merchant.ID, name, d)
	if err != nil {
		return nil, err
	}
	return &outbox.Message{Key: a.key(name), MerchantID: a.merchant.ID, Kind: outbox.KindReply, Priority: priority, InReplyTo: replyTo, Text: text}, nil
}

func (b *Bot) reply(ctx context.Context, a answer, replyTo, name string, d PublicData, priority int, group string, collapse *outbox.Message) error {
	msg, err := b.replyMessage(a, replyTo, name, d, priority)
	if err != nil {
		return err
	}
	msg.Group, msg.Collapse = group, collapse
	return b.Outbox.Enqueue(ctx, *msg)
}

// soldOutPost is the one public post that replaces every sold-out reply of
// an offer when there are more than the rate budget can answer.
func (b *Bot) soldOutPost(a answer, o *commerce.Offer) (*outbox.Message, error) {
	text, err := b.Templates.Public(a.merchant.ID, "post_sold_out", PublicData{Merchant: a.merchant.ScreenName, Title: o.Title})
	if err != nil {
		return nil, err
	}
	msg := &outbox.Message{Key: "soldout-post:" + o.MerchantID + "/" + o.ID, MerchantID: a.merchant.ID, Kind: outbox.KindPost, Priority: outbox.PriorityNotice, Text: text}
	if len(o.PostIDs) > 0 {
		msg.InReplyTo = o.PostIDs[0] // under the offer's post, where the shoppers look
	}
	return msg, nil
}

func (b *Bot) onDM(ctx context.Context, ev inbox.Event, cat *commerce.Catalog, m *commerce.Merchant, d dmEvent, handle string) error {
	sender := d.MessageCreate.SenderID
	if d.Type != "" && d.Type != "message_create" || sender == "" || sender == m.XUserID {
		return nil // our own DMs come back as events too
	}
	buyer := commerce.Buyer{XUserID: sender, ScreenName: handle}
	a := answer{ev: ev, merchant: m}
	now := b.Now().UTC()
	priv := PrivateData{Handle: handle, Merchant: m.ScreenName}
	send := func(name string, d PrivateData) error {
		text, err := b.Templates.Private(m.ID, name, d)
		if err != nil {
			return err
		}
		return b.Outbox.Enqueue(ctx, outbox.Message{Key: a.key(name), MerchantID: m.ID, Kind: outbox.KindDM, Priority: outbox.PriorityNotice, RecipientID: sender, Text: text})
	}
	cmd := Parse(d.MessageCreate.MessageData.Text).Command
	switch cmd {
	case "help", "hi", "hello", "menu":
		return send("dm_help", priv)
	case "buy", "link", "checkout":
		h, err := b.Stores.LatestActiveHold(ctx, m.ID, sender, now)
		if errors.Is(err, commerce.ErrNotFound) {
			return send("dm_buy_none", priv)
		}
		if err != nil {
			return err
		}
		o, _ := cat.Offer(h.MerchantID, h.OfferID)
		dm, err := b.holdDM(a, buyer, o, h, "dm_checkout")
		if err != nil {
			return err
		}
		return b.Outbox.Enqueue(ctx, dm)
	case "cart", "basket":
		c, err := b.Stores.OpenCart(ctx, m.ID, sender)
		if errors.Is(err, commerce.ErrNotFound) || (err == nil && len(c.Lines) == 0) {
			return send("dm_cart_empty", priv)
		}
		if err != nil {
			return err
		}
		priv.Cart, priv.CartTotal, priv.Link = cartSummary(c), c.Total().String(), outbox.LinkPlaceholder
		text, err := b.Templates.Private(m.ID, "dm_cart_view", priv)
		if err != nil {
			return err
		}
		return b.Outbox.Enqueue(ctx, outbox.Message{Key: a.key("dm_cart_view"), MerchantID: m.ID, Kind: outbox.KindDM, Priority: outbox.PriorityCheckout, RecipientID: sender, Text: text,
			Link: &outbox.Link{BuyerID: sender, Target: commerce.LinkTarget{Kind: commerce.LinkCart, ID: c.ID}, ExpiresAt: now.Add(b.CartLinkTTL)}})
	case "empty", "clear":
		if _, err := b.Stores.EmptyCart(ctx, m.ID, sender, now); err != nil {
			return err
		}
		return send("dm_cart_emptied", priv)
	case "orders", "order", "history":
		priv.Link = outbox.LinkPlaceholder
		text, err := b.Templates.Private(m.ID, "dm_orders", priv)
		if err != nil {
			return err
		}
		return b.Outbox.Enqueue(ctx, outbox.Message{Key: a.key("dm_orders"), MerchantID: m.ID, Kind: outbox.KindDM, Priority: outbox.PriorityNotice, RecipientID: sender, Text: text,
			Link: &outbox.Link{BuyerID: sender, Target: commerce.LinkTarget{Kind: commerce.LinkOrders}, ExpiresAt: now.Add(time.Hour)}})
	case "stop", "unsubscribe":
		if err := b.Stores.SetReminders(ctx, buyer, false, now); err != nil {
			return err
		}
		return send("dm_stop", priv)
	case "start", "subscribe":
		if err := b.Stores.SetReminders(ctx, buyer, true, now); err != nil {
			return err
		}
		return send("dm_start", priv)
	case "forget", "erase", "delete":
		if err := b.Stores.AskQuestion(ctx, buyer, "forget", now.Add(10*time.Minute)); err != nil {
			return err
		}
		return send("dm_forget_ask", priv)
	case "yes", "y", "confirm":
		q, err := b.Stores.TakeQuestion(ctx, sender, now)
		if err != nil {
			return err
		}
		if id, ok := boughtHold(q); ok && b.Checkout != nil {
			return b.oneTap(ctx, a, cat, buyer, id)
		}
		if q == "forget" {
			if err := b.Stores.Forget(ctx, sender, now); err != nil {
				return err
			}
			b.Log.InfoContext(ctx, "buyer details erased on request", "buyer", sender, "merchant", m.ID)
			return send("dm_forget_done", priv)
		}
		return send("dm_nothing_to_confirm", priv)
	default:
		return send("dm_unknown", priv)
	}
}

func variantChoices(o *commerce.Offer) string {
	names := make([]string, len(o.Variants))
	for i, v := range o.Variants {
		names[i] = v.Name
	}
	return orList(names)
}

func offerChoices(offers []*commerce.Offer) string {
	names := make([]string, 0, len(offers))
	for _, o := range offers {
		if len(o.Keywords) > 0 {
			names = append(names, fmt.Sprintf("%s (%s)", o.Title, strings.ToUpper(o.Keywords[0])))
		} else {
			names = append(names, o.Title)
		}
	}
	return orList(names)
}

func orList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

func cartSummary(c commerce.Cart) string {
	items := make([]string, len(c.Lines))
	for i, l := range c.Lines {
		items[i] = item(l.Quantity, l.Title, l.Variant)
	}
	return strings.Join(items, ", ")
}

// item names units of an offer as every answer does: "2 × Signed vinyl (red)".
func item(quantity int, title, variant string) string {
	s := fmt.Sprintf("%d × %s", quantity, title)
	if variant != "" {
		s += " (" + variant + ")"
	}
	return s
}

// humanDuration writes a hold's time left the way a person would say it.
func humanDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int((d+30*time.Second)/time.Minute), "minute")
	default:
		return plural(max(1, int(d/time.Second)), "second")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// buyQuestion is the pending question of a one-tap offer for a hold.
func buyQuestion(holdID int64) string { return "buy:" + strconv.FormatInt(holdID, 10) }

func boughtHold(q string) (int64, bool) {
	rest, ok := strings.CutPrefix(q, "buy:")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

// oneTap buys a held item with the buyer's saved details after their YES.
// On success the order's confirmation DM says so; on a refusal the buyer
// gets the link to finish on the page.
func (b *Bot) oneTap(ctx context.Context, a answer, cat *commerce.Catalog, buyer commerce.Buyer, holdID int64) error {
	m := a.merchant
	h, err := b.Stores.Hold(ctx, holdID)
	if err != nil {
		return err
	}
	o, ok := cat.Offer(h.MerchantID, h.OfferID)
	send := func(name string, d PrivateData, link *outbox.Link) error {
		text, err := b.Templates.Private(m.ID, name, d)
		if err != nil {
			return err
		}
		return b.Outbox.Enqueue(ctx, outbox.Message{Key: a.key(name), MerchantID: m.ID, Kind: outbox.KindDM, Priority: outbox.PriorityCheckout, RecipientID: buyer.XUserID, Text: text, Link: link})
	}
	if !ok {
		return send("dm_hold_ended", PrivateData{Merchant: m.ScreenName}, nil)
	}
	order, err := b.Checkout.OneTap(ctx, h, o, a.ev.ID)
	switch {
	case err == nil:
		// The charge runs after this event commits (a provider task); the
		// order's confirmation, or the link, follows.
		b.Log.InfoContext(ctx, "one-tap charge queued", "order", order.Reference(), "merchant", m.ID)
		return nil
	case errors.Is(err, commerce.ErrUsed):
		return nil // already bought: its confirmation went out then
	case errors.Is(err, commerce.ErrExpired):
		return send("dm_hold_ended", PrivateData{Merchant: m.ScreenName}, nil)
	}
	var fe commerce.FieldErrors
	business := errors.Is(err, commerce.ErrNotFound) || errors.Is(err, commerce.ErrNotShippable) ||
		errors.Is(err, commerce.ErrInvalid) || errors.As(err, &fe)
	if !business {
		return err
	}
	return send("dm_onetap_failed", PrivateData{Merchant: m.ScreenName, Method: "your saved card", Reason: "your saved details can't be used for this order.", Link: outbox.LinkPlaceholder},
		&outbox.Link{BuyerID: buyer.XUserID, Target: commerce.LinkTarget{Kind: commerce.LinkHold, ID: h.ID}, ExpiresAt: h.ExpiresAt})
}

// ServeReleased gives the units of released holds to the waiting buyers of
// their offers, in the order they joined, each with a DM holding a link.
// inTx runs each buyer's turn in one transaction (hold, queue and DM).
func (b *Bot) ServeReleased(ctx context.Context, released []commerce.Hold, inTx func(context.Context, func(context.Context) error) error) (int, error) {
	type counter struct{ merchant, offer, variant string }
	seen := map[counter]bool{}
	cat := b.Catalog()
	total := 0
	for _, h := range released {
		o, ok := cat.Offer(h.MerchantID, h.OfferID)
		if !ok {
			continue
		}
		key := o.StockKey(h.Variant)
		c := counter{h.MerchantID, h.OfferID, key}
		if seen[c] {
			continue
		}
		seen[c] = true
		m, _ := cat.Merchant(h.MerchantID)
		n, err := b.Shop.ServeWaitlist(ctx, o, key, inTx, func(ctx context.Context, e commerce.WaitlistEntry, h commerce.Hold) error {
			a := answer{ev: inbox.Event{ID: fmt.Sprintf("waitlist:%d", e.ID)}, merchant: m}
			dm, err := b.holdDM(a, e.Buyer, o, h, "dm_waitlist_turn")
			if err != nil {
				return err
			}
			if !o.Free() {
				dm.Text, err = b.Templates.Private(m.ID, "dm_waitlist_turn", PrivateData{
					Handle: e.Buyer.ScreenName, Merchant: m.ScreenName, Title: o.Title, Variant: h.Variant, Quantity: h.Quantity,
					Total: h.Total().String(), HoldFor: humanDuration(h.ExpiresAt.Sub(b.Now())), Link: outbox.LinkPlaceholder,
				})
				if err != nil {
					return err
				}
			}
			return b.Outbox.Enqueue(ctx, dm)
		})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
