package demo

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/xsim"
)

// Prefix is the path under which Handler serves everything.
const Prefix = "/demo"

// StockReader tells how many units of an offer are left, per stock counter
// (nil: unlimited).
type StockReader interface {
	Remaining(ctx context.Context, o *commerce.Offer) (map[string]*int, error)
}

// Options configure a Demo.
type Options struct {
	// Sim is the X simulator hashcart's X client talks to.
	Sim *xsim.Server
	// WebhookURL is hashcart's X webhook, where replies and DMs typed on
	// the page are delivered.
	WebhookURL string
	// Catalog returns the merchants and offers hashcart sells.
	Catalog func() *commerce.Catalog
	// Stock reads what is left of an offer; nil shows no stock.
	Stock StockReader
	// Tokens maps each merchant's X access token to its merchant id: the
	// simulator records who posted by token.
	Tokens map[string]string
	// OrderSecrets maps a merchant id to its order_webhook secret, to check
	// the signature of what the merchant receives.
	OrderSecrets map[string]string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives problems; nil discards them.
	Log *slog.Logger
}

// Demo serves the demo page and records what the page's shoppers sent and
// what the merchant received. Create it with New; it is safe for concurrent
// use.
type Demo struct {
	opts Options
	tpl  *template.Template
	stop chan struct{}

	mu       sync.Mutex
	version  uint64
	changed  chan struct{}
	replies  []reply
	sent     []sentDM
	orders   []received
	handles  map[string]string // user id -> handle
	delivery map[string]bool   // delivery ids received
}

// reply is a shopper's public reply to a post, as the page sent it.
type reply struct {
	ID, PostID, MerchantID, Handle, UserID, Text string
	At                                           time.Time
}

// sentDM is a shopper's direct message to a merchant.
type sentDM struct {
	ID, MerchantID, Handle, UserID, Text string
	At                                   time.Time
}

// received is an order as the merchant's order_webhook got it.
type received struct {
	Order commerce.HandoffOrder
	At    time.Time
}

//go:embed assets
var assets embed.FS

// New returns a Demo with nothing recorded.
func New(opts Options) *Demo {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	tpl := template.Must(template.New("").Funcs(template.FuncMap{
		"clock": func(t time.Time) string { return t.UTC().Format("15:04:05") },
	}).ParseFS(assets, "assets/*.html"))
	return &Demo{
		opts: opts, tpl: tpl, stop: make(chan struct{}), changed: make(chan struct{}),
		handles: map[string]string{}, delivery: map[string]bool{},
	}
}

// Run follows the simulator's records so that open pages update, until ctx
// ends. Long polls waiting when it returns are answered at once.
func (d *Demo) Run(ctx context.Context) {
	defer close(d.stop)
	for {
		c := d.opts.Sim.Changes()
		select {
		case <-ctx.Done():
			return
		case <-c:
			d.mu.Lock()
			d.bumpLocked()
			d.mu.Unlock()
		}
	}
}

// bumpLocked marks a change for the long polls; d.mu must be held.
func (d *Demo) bumpLocked() {
	d.version++
	close(d.changed)
	d.changed = make(chan struct{})
}

// Handler serves the page and its endpoints under Prefix:
//
//	GET  /demo                the page (or the handle picker)
//	GET  /demo/live?v=N       the page's live parts once they differ from version N (long poll)
//	GET  /demo/demo.js        the page's script
//	GET  /demo/handle         the handle picker
//	POST /demo/handle         choose the shopper's handle
//	POST /demo/reply          reply to a post (delivered to hashcart as X would)
//	POST /demo/dm             send the merchant a DM (delivered likewise)
//	POST /demo/merchant/{id}/orders  the merchant's order_webhook
func (d *Demo) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix, d.page)
	mux.HandleFunc("GET "+Prefix+"/{$}", d.page)
	mux.HandleFunc("GET "+Prefix+"/live", d.live)
	mux.HandleFunc("GET "+Prefix+"/demo.js", d.script)
	mux.HandleFunc("GET "+Prefix+"/handle", func(w http.ResponseWriter, r *http.Request) {
		d.render(w, http.StatusOK, "pick", pickView{Handle: currentHandle(r)})
	})
	mux.HandleFunc("POST "+Prefix+"/handle", d.sameOrigin(d.chooseHandle))
	mux.HandleFunc("POST "+Prefix+"/reply", d.sameOrigin(d.reply))
	mux.HandleFunc("POST "+Prefix+"/dm", d.sameOrigin(d.dm))
	mux.HandleFunc("POST "+Prefix+"/merchant/{id}/orders", d.receiveOrder)
	return mux
}

// handleCookie keeps the shopper's handle.
const handleCookie = "demo_handle"

var handlePattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,15}$`)

// UserID is the X user id the demo gives a handle: the same for the same
// handle (any case), in every run, so a shopper's saved details and orders
// follow the handle when the demo keeps its data.
func UserID(handle string) string {
	h := fnv.New64a()
	h.Write([]byte(strings.ToLower(handle)))
	// 16-digit ids, far from the merchants' configured ones.
	return strconv.FormatUint(1_000_000_000_000_000+h.Sum64()%8_000_000_000_000_000, 10)
}

// currentHandle is the shopper's handle, or "" before one is chosen.
func currentHandle(r *http.Request) string {
	c, err := r.Cookie(handleCookie)
	if err != nil || !handlePattern.MatchString(c.Value) {
		return ""
	}
	return c.Value
}

// sameOrigin refuses form posts made by other sites' pages, so a page
// elsewhere cannot post replies as the demo's shopper.
func (d *Demo) sameOrigin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && o != "null" {
			u, err := url.Parse(o)
			if err != nil || u.Host != r.Host {
				http.Error(w, "cross-site form refused", http.StatusForbidden)
				return
			}
		}
		next(w, r)
	}
}

func (d *Demo) chooseHandle(w http.ResponseWriter, r *http.Request) {
	handle := strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("handle")), "@")
	if !handlePattern.MatchString(handle) {
		d.render(w, http.StatusUnprocessableEntity, "pick", pickView{Handle: handle,
			Problem: "A handle is 1 to 15 letters, digits or _, like on X."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: handleCookie, Value: handle, Path: Prefix, MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
	d.mu.Lock()
	d.handles[UserID(handle)] = handle
	d.mu.Unlock()
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// text is what a reply or DM form sent: a quick button's value, else the
// typed text.
func formText(r *http.Request) string {
	if q := strings.TrimSpace(r.PostFormValue("quick")); q != "" {
		return q
	}
	return strings.TrimSpace(r.PostFormValue("text"))
}

// checkText says what is wrong with a reply or DM text, or "".
func checkText(s string) string {
	switch {
	case s == "":
		return "Write something first."
	case utf8.RuneCountInString(s) > 280:
		return "That is longer than X allows (280 characters)."
	}
	return ""
}

func (d *Demo) reply(w http.ResponseWriter, r *http.Request) {
	handle := currentHandle(r)
	if handle == "" {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	postID, text := r.PostFormValue("post_id"), formText(r)
	m := d.postOwner(postID)
	if m == nil {
		back(w, r, "", "That post is not one of the merchant's.")
		return
	}
	if p := checkText(text); p != "" {
		back(w, r, "post-"+postID, p)
		return
	}
	// X puts the handle replied to first.
	if !strings.HasPrefix(strings.ToLower(text), "@"+strings.ToLower(m.ScreenName)) {
		text = "@" + m.ScreenName + " " + text
	}
	now := d.opts.Now()
	rp := reply{ID: d.opts.Sim.NewID(), PostID: postID, MerchantID: m.ID, Handle: handle, UserID: UserID(handle), Text: text, At: now}
	d.mu.Lock()
	d.replies = append(d.replies, rp)
	d.handles[rp.UserID] = handle
	d.bumpLocked()
	d.mu.Unlock()
	payload := xsim.TweetCreate(m.XUserID, xsim.Tweet{
		ID: rp.ID, Text: text, UserID: rp.UserID, ScreenName: handle,
		InReplyToStatusID: postID, InReplyToUserID: m.XUserID, InReplyToScreenName: m.ScreenName, At: now,
	})
	if err := d.deliver(r.Context(), payload); err != nil {
		d.opts.Log.Warn("demo: reply not delivered", "post", postID, "err", err)
		back(w, r, "post-"+postID, "hashcart did not take the reply: "+err.Error())
		return
	}
	back(w, r, "post-"+postID, "")
}

func (d *Demo) dm(w http.ResponseWriter, r *http.Request) {
	handle := currentHandle(r)
	if handle == "" {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	text := formText(r)
	m, ok := d.opts.Catalog().Merchant(r.PostFormValue("merchant"))
	if !ok {
		back(w, r, "inbox-pane", "Choose whom to message.")
		return
	}
	if p := checkText(text); p != "" {
		back(w, r, "inbox-pane", p)
		return
	}
	now := d.opts.Now()
	msg := sentDM{ID: d.opts.Sim.NewID(), MerchantID: m.ID, Handle: handle, UserID: UserID(handle), Text: text, At: now}
	d.mu.Lock()
	d.sent = append(d.sent, msg)
	d.handles[msg.UserID] = handle
	d.bumpLocked()
	d.mu.Unlock()
	payload := xsim.DirectMessage(m.XUserID, msg.ID, msg.UserID, m.XUserID, handle, text, now)
	if err := d.deliver(r.Context(), payload); err != nil {
		d.opts.Log.Warn("demo: dm not delivered", "merchant", m.ID, "err", err)
		back(w, r, "inbox-pane", "hashcart did not take the message: "+err.Error())
		return
	}
	back(w, r, "inbox-pane", "")
}

// deliver sends an Account Activity payload to hashcart's webhook, as X
// does, and reports anything but a 200.
func (d *Demo) deliver(ctx context.Context, payload any) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := d.opts.Sim.Deliver(ctx, d.opts.WebhookURL, payload)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// back redirects to the page after a form, at anchor, with a problem to
// show when there is one.
func back(w http.ResponseWriter, r *http.Request, anchor, problem string) {
	to := Prefix
	if problem != "" {
		to += "?problem=" + url.QueryEscape(problem)
	}
	if anchor != "" {
		to += "#" + anchor
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// postOwner is the merchant whose offer has postID, or nil.
func (d *Demo) postOwner(postID string) *commerce.Merchant {
	for _, m := range d.opts.Catalog().Merchants() {
		for _, o := range m.Offers {
			for _, p := range o.PostIDs {
				if p == postID {
					return m
				}
			}
		}
	}
	return nil
}

func (d *Demo) script(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/demo.js")
	if err != nil {
		http.Error(w, "missing script", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}
