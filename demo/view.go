package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// pickView is the handle picker.
type pickView struct {
	Handle, Problem string
}

// pageView is the whole page for one shopper.
type pageView struct {
	Handle, UserID string
	Problem        string
	Version        uint64
	Posts          []postView
	Merchants      []*commerce.Merchant
	Inbox          inboxView
	Received       []orderView
}

// postView is one offer post of the feed with its thread.
type postView struct {
	ID       string
	Merchant *commerce.Merchant
	Offers   []offerView
	Hint     string
	Quick    []string
	Thread   []threadItem
}

// offerView is an offer as its post shows it.
type offerView struct {
	Title, Price, Status, Left string
	OnSale                     bool
}

// threadItem is a reply under a post: a shopper's, with the merchant's
// answers under it, or the merchant's own.
type threadItem struct {
	Handle   string
	Merchant bool
	Mine     bool
	Text     string
	At       time.Time
	Answers  []threadItem
}

// inboxView is the shopper's conversation with the merchants.
type inboxView struct {
	Messages []message
	// Received counts the merchants' messages.
	Received int
}

// message is one DM; Parts has its links made clickable.
type message struct {
	FromMe bool
	Who    string
	Parts  []textPart
	At     time.Time
}

// textPart is plain text or a link.
type textPart struct {
	Text string
	Link bool
}

// orderView is an order as the merchant received it.
type orderView struct {
	Merchant, Reference, Items, Total, ShipTo, Buyer, Status string
	At                                                       time.Time
}

func (d *Demo) render(w http.ResponseWriter, status int, name string, v any) {
	var buf bytes.Buffer
	if err := d.tpl.ExecuteTemplate(&buf, name, v); err != nil {
		d.opts.Log.Error("demo: render", "template", name, "err", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (d *Demo) page(w http.ResponseWriter, r *http.Request) {
	handle := currentHandle(r)
	if handle == "" {
		d.render(w, http.StatusOK, "pick", pickView{})
		return
	}
	v := d.view(r.Context(), handle)
	v.Problem = r.URL.Query().Get("problem")
	d.render(w, http.StatusOK, "page", v)
}

// liveParts names the parts of the page the long poll replaces, by
// element id.
func (d *Demo) liveParts(v pageView) (map[string]string, error) {
	parts := map[string]string{}
	var buf bytes.Buffer
	add := func(id, name string, data any) error {
		buf.Reset()
		if err := d.tpl.ExecuteTemplate(&buf, name, data); err != nil {
			return fmt.Errorf("render %s: %w", name, err)
		}
		parts[id] = buf.String()
		return nil
	}
	for _, p := range v.Posts {
		if err := add("offers-"+p.ID, "offers", p); err != nil {
			return nil, err
		}
		if err := add("thread-"+p.ID, "thread", p); err != nil {
			return nil, err
		}
	}
	if err := add("dm-count", "dmcount", v.Inbox); err != nil {
		return nil, err
	}
	if err := add("inbox", "inbox", v.Inbox); err != nil {
		return nil, err
	}
	if err := add("merchant", "merchant", v.Received); err != nil {
		return nil, err
	}
	return parts, nil
}

// pollWait bounds a long poll. It is short because a poll the browser
// gave up (the page navigated away) holds its connection until it ends:
// the handler runs behind Fiber's net/http adaptor, which does not tell it
// that the client left. After a few quick navigations (a checkout, the
// sandbox's payment page, back) the browser's connections to the host
// were all held, and the page's next poll waited for one: at 25 s an
// order reached the merchant pane 25 s late, and the demo's browser test
// failed now and then.
const pollWait = 8 * time.Second

// live answers the page's long poll: once the state differs from version
// v (at once if it already does, else at the next change or after
// pollWait), the current version and the HTML of each live part.
func (d *Demo) live(w http.ResponseWriter, r *http.Request) {
	handle := currentHandle(r)
	if handle == "" {
		http.Error(w, "choose a handle first", http.StatusUnauthorized)
		return
	}
	since, _ := strconv.ParseUint(r.URL.Query().Get("v"), 10, 64)
	d.mu.Lock()
	cur, changed := d.version, d.changed
	d.mu.Unlock()
	if cur == since {
		t := time.NewTimer(pollWait)
		select {
		case <-changed:
		case <-t.C:
		case <-d.stop:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	v := d.view(r.Context(), handle)
	parts, err := d.liveParts(v)
	if err != nil {
		d.opts.Log.Error("demo: live parts", "err", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"v": v.Version, "parts": parts})
}

// view gathers what handle sees. The version is read first, so a change
// made while gathering shows as a newer version at the next poll.
func (d *Demo) view(ctx context.Context, handle string) pageView {
	userID := UserID(handle)
	cat := d.opts.Catalog()
	posts := d.opts.Sim.Posts()
	dms := d.opts.Sim.DMsTo(userID)
	d.mu.Lock()
	version := d.version
	replies := slices.Clone(d.replies)
	sent := slices.Clone(d.sent)
	orders := slices.Clone(d.orders)
	handles := make(map[string]string, len(d.handles))
	for k, v := range d.handles {
		handles[k] = v
	}
	d.mu.Unlock()
	// The reads above may see a change the version does not count yet;
	// that only makes the next poll return early.

	v := pageView{Handle: handle, UserID: userID, Version: version, Merchants: cat.Merchants()}
	now := d.opts.Now()
	byMerchant := func(token string) *commerce.Merchant {
		m, _ := cat.Merchant(d.opts.Tokens[token])
		return m
	}
	// Merchant posts by the id they answer.
	answers := map[string][]threadItem{}
	for _, p := range posts {
		m := byMerchant(p.AuthorToken)
		if m == nil || p.InReplyTo == "" {
			continue
		}
		answers[p.InReplyTo] = append(answers[p.InReplyTo], threadItem{Handle: m.ScreenName, Merchant: true, Text: p.Text, At: p.At})
	}
	for _, m := range v.Merchants {
		var ids []string
		for _, o := range m.Offers {
			for _, id := range o.PostIDs {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
		for _, id := range ids {
			p := postView{ID: id, Merchant: m}
			on := offersOn(m, id)
			for _, o := range on {
				p.Offers = append(p.Offers, d.offerView(ctx, o, now))
				p.addTags(o, len(on) > 1)
			}
			v.Posts = append(v.Posts, p)
		}
	}
	for i := range v.Posts {
		p := &v.Posts[i]
		for _, rp := range replies {
			if rp.PostID == p.ID {
				p.Thread = append(p.Thread, threadItem{Handle: rp.Handle, Mine: rp.Handle == handle, Text: rp.Text, At: rp.At, Answers: answers[rp.ID]})
			}
		}
		p.Thread = append(p.Thread, answers[p.ID]...)
		slices.SortStableFunc(p.Thread, func(a, b threadItem) int { return a.At.Compare(b.At) })
	}

	for _, dm := range dms {
		if m := byMerchant(dm.AuthorToken); m != nil {
			v.Inbox.Messages = append(v.Inbox.Messages, message{Who: "@" + m.ScreenName, Parts: linkify(dm.Text), At: dm.At})
			v.Inbox.Received++
		}
	}
	for _, s := range sent {
		if s.UserID == userID {
			v.Inbox.Messages = append(v.Inbox.Messages, message{FromMe: true, Who: "you", Parts: linkify(s.Text), At: s.At})
		}
	}
	slices.SortStableFunc(v.Inbox.Messages, func(a, b message) int { return a.At.Compare(b.At) })

	for i := len(orders) - 1; i >= 0; i-- {
		o := orders[i].Order
		ov := orderView{Merchant: o.Merchant, Reference: o.ID, Status: o.Status, At: orders[i].At,
			Total: commerce.Money{Amount: o.Total.Amount, Currency: o.Total.Currency}.String()}
		if m, ok := cat.Merchant(o.Merchant); ok {
			ov.Merchant = m.Name
		}
		var items []string
		for _, it := range o.Items {
			s := fmt.Sprintf("%d × %s", it.Quantity, it.Title)
			if it.Variant != "" {
				s += " (" + it.Variant + ")"
			}
			items = append(items, s)
		}
		// "; " as in `hashcart orders export`: titles may hold commas.
		ov.Items = strings.Join(items, "; ")
		ov.ShipTo = o.Shipping.Short()
		if o.Shipping.Country != "" {
			ov.ShipTo += ", " + o.Shipping.Country
		}
		ov.Buyer = "buyer " + o.BuyerID
		if h, ok := handles[o.BuyerID]; ok {
			ov.Buyer = "@" + h
		}
		v.Received = append(v.Received, ov)
	}
	return v
}

// offersOn lists m's offers that have post id.
func offersOn(m *commerce.Merchant, id string) []*commerce.Offer {
	var out []*commerce.Offer
	for _, o := range m.Offers {
		if slices.Contains(o.PostIDs, id) {
			out = append(out, o)
		}
	}
	return out
}

// addTags adds the offer's reply buttons and hint to the post: the first
// buy and cart tag, per variant when it has variants, with its keyword
// when several offers share the post.
func (p *postView) addTags(o *commerce.Offer, keyword bool) {
	suffix := ""
	if keyword && len(o.Keywords) > 0 {
		suffix = " " + strings.ToUpper(o.Keywords[0])
	}
	var tags []string
	if len(o.BuyTags) > 0 {
		tags = append(tags, prettyTag(o.BuyTags[0]))
	}
	if len(o.CartTags) > 0 {
		tags = append(tags, prettyTag(o.CartTags[0]))
	}
	for _, tag := range tags {
		if len(o.Variants) == 0 {
			p.Quick = append(p.Quick, tag+suffix)
			continue
		}
		for _, v := range o.Variants {
			p.Quick = append(p.Quick, tag+suffix+" "+v.Name)
		}
	}
	if p.Hint == "" && len(tags) > 0 {
		p.Hint = "Reply " + strings.Join(tags, " or ")
		if len(tags) == 2 {
			p.Hint = "Reply " + tags[0] + " to buy, " + tags[1] + " to add it to your cart"
		}
	}
}

// prettyTag writes a normalized tag ("buynow") as people write it.
func prettyTag(tag string) string {
	known := map[string]string{"buynow": "#BuyNow", "addtocart": "#AddToCart", "cart": "#Cart", "claim": "#Claim", "buy": "#Buy"}
	if t, ok := known[tag]; ok {
		return t
	}
	return "#" + tag
}

// offerView describes o at now: price, whether it is on sale, stock left.
func (d *Demo) offerView(ctx context.Context, o *commerce.Offer, now time.Time) offerView {
	ov := offerView{Title: o.Title, Price: o.Price.String(), OnSale: true}
	if o.Free() {
		ov.Price = "free"
	}
	switch err := o.Availability(now); {
	case errors.Is(err, commerce.ErrNotOnSale):
		ov.OnSale, ov.Status = false, "On sale from "+o.StartsAt.UTC().Format("Mon 2 Jan 15:04 UTC")
	case errors.Is(err, commerce.ErrEnded):
		ov.OnSale, ov.Status = false, "Ended"
	}
	if d.opts.Stock == nil {
		return ov
	}
	left, err := d.opts.Stock.Remaining(ctx, o)
	if err != nil {
		d.opts.Log.Warn("demo: stock", "offer", o.ID, "err", err)
		return ov
	}
	total, limited := 0, false
	for _, n := range left {
		if n != nil {
			total += *n
			limited = true
		}
	}
	if limited {
		ov.Left = fmt.Sprintf("%d left", total)
		if total == 0 {
			ov.Left = "Sold out"
		}
	}
	return ov
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// linkify splits text into plain parts and links; a link's trailing
// punctuation stays text.
func linkify(text string) []textPart {
	var out []textPart
	last := 0
	for _, loc := range linkPattern.FindAllStringIndex(text, -1) {
		start, end := loc[0], loc[1]
		for end > start && strings.ContainsRune(".,;:!?)", rune(text[end-1])) {
			end--
		}
		if start > last {
			out = append(out, textPart{Text: text[last:start]})
		}
		out = append(out, textPart{Text: text[start:end], Link: true})
		last = end
	}
	if last < len(text) {
		out = append(out, textPart{Text: text[last:]})
	}
	return out
}
