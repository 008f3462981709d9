package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/commerce"
)

var merchantPage = template.Must(template.ParseFS(pageFS, "templates/merchant.html"))

// MerchantShop is what the merchant page reads about stock, the funnel
// and buyers; every call is about one merchant's rows.
type MerchantShop interface {
	MerchantStock(ctx context.Context, merchantID string) ([]commerce.StockLevel, error)
	Funnel(ctx context.Context, merchantID string, since time.Time) ([]commerce.OfferFunnel, error)
	ScreenNames(ctx context.Context, buyerIDs []string) (map[string]string, error)
}

// MerchantOrders reads one merchant's orders, addresses decrypted.
type MerchantOrders interface {
	LatestMerchantOrders(ctx context.Context, merchantID string, limit int) ([]commerce.Order, error)
	MerchantOrders(ctx context.Context, merchantID string, since time.Time) ([]commerce.Order, error)
}

// MerchantAccess is a merchant allowed on the page, with its token.
type MerchantAccess struct {
	ID    string
	Token string
}

// MerchantPage serves each merchant its own dashboard:
//
//	GET  /merchant             stock, orders, funnel (or the sign-in form)
//	GET  /merchant?token=...   sign in, then redirect to /merchant
//	POST /merchant/login       sign in with the form
//	POST /merchant/logout      sign out
//	GET  /merchant/orders.csv  the orders of the period as CSV
//
// A token is exchanged once for a signed session cookie naming the
// merchant (HttpOnly, SameSite=Strict, Secure when Secure is set); the
// CSV also takes "Authorization: Bearer <token>". Every read is scoped to
// the merchant the session or token names, so a merchant sees its own
// orders only. A wrong token gets 401; tokens are compared in constant
// time and never logged. After 10 wrong tokens from one address in 15
// minutes, tokens from it get 429 (with Retry-After) until the oldest of
// those is 15 minutes old; sessions already open are not affected.
type MerchantPage struct {
	// Access lists the merchants that have a dashboard token.
	Access []MerchantAccess
	Shop   MerchantShop
	Orders MerchantOrders
	// Catalog names offers and merchants.
	Catalog func() *commerce.Catalog
	// SessionKey signs session cookies; sessions end when it changes, and
	// when the merchant's token changes.
	SessionKey []byte
	// Secure marks the cookie Secure (the public URL is https).
	Secure bool
	// Refresh is how often the page reloads itself (a meta refresh); 0 for
	// never.
	Refresh time.Duration
	Now     func() time.Time
	Log     *slog.Logger

	// limit bounds wrong tokens per client address (signin_limit.go).
	limit signInLimiter
}

const (
	merchantCookie  = "hashcart_merchant"
	merchantSession = 12 * time.Hour
	// merchantOrdersShown bounds the orders listed on the page; the CSV
	// has every order of the period.
	merchantOrdersShown = 100
	defaultDays         = 30
	maxDays             = 366
)

// Mount registers the page.
func (p *MerchantPage) Mount(app fiber.Router) {
	app.Get("/merchant", p.show)
	app.Post("/merchant/login", p.login)
	app.Post("/merchant/logout", p.logout)
	app.Get("/merchant/orders.csv", p.csv)
}

// merchantFor returns the merchant whose token is token, comparing with
// every merchant's token in constant time.
func (p *MerchantPage) merchantFor(token string) (string, bool) {
	if token == "" {
		return "", false
	}
	got := sha256.Sum256([]byte(token))
	found := ""
	for _, a := range p.Access {
		want := sha256.Sum256([]byte(a.Token))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			found = a.ID
		}
	}
	return found, found != ""
}

// checkToken is merchantFor for a token a client sent, bounded per client
// address: a wrong token counts against the address, and while the
// address is refused the token is not compared at all and wait says how
// long is left.
func (p *MerchantPage) checkToken(c *fiber.Ctx, token string) (id string, ok bool, wait time.Duration) {
	ip, now := ClientIP(c), p.Now()
	if wait := p.limit.wait(ip, now); wait > 0 {
		return "", false, wait
	}
	id, ok = p.merchantFor(token)
	if ok {
		p.limit.succeed(ip)
		return id, true, 0
	}
	if p.limit.fail(ip, now) {
		p.Log.Warn("merchant page: too many wrong tokens, refusing tokens from this address for a while",
			"ip", ip, "failures", signInFailures, "window", signInWindow, "wait", p.limit.wait(ip, now).Round(time.Second))
	}
	return "", false, 0
}

// retryAfter sets Retry-After to wait in whole seconds, rounded up, and
// returns the wait in minutes as people read it.
func retryAfter(c *fiber.Ctx, wait time.Duration) string {
	secs := int64((wait + time.Second - 1) / time.Second)
	c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(secs, 10))
	if mins := (secs + 59) / 60; mins > 1 {
		return fmt.Sprintf("%d minutes", mins)
	}
	return "a minute"
}

// tooManyTries answers a token from an address that is refused for now.
func (p *MerchantPage) tooManyTries(c *fiber.Ctx, wait time.Duration) error {
	in := retryAfter(c, wait)
	return p.signIn(c, fiber.StatusTooManyRequests, "Too many wrong tokens came from your address. Try again in "+in+".")
}

func (p *MerchantPage) tokenOf(id string) (string, bool) {
	for _, a := range p.Access {
		if a.ID == id {
			return a.Token, true
		}
	}
	return "", false
}

// sessionMAC binds a session to the merchant, its expiry and the current
// token (as a hash), so that changing the token ends its sessions.
func (p *MerchantPage) sessionMAC(id string, expires int64, token string) []byte {
	th := sha256.Sum256([]byte(token))
	m := hmac.New(sha256.New, p.SessionKey)
	fmt.Fprintf(m, "merchant-session|%s|%d|%x", id, expires, th)
	return m.Sum(nil)
}

func (p *MerchantPage) newSession(c *fiber.Ctx, id string) {
	token, _ := p.tokenOf(id)
	expires := p.Now().Add(merchantSession)
	value := base64.RawURLEncoding.EncodeToString([]byte(id)) + "." + strconv.FormatInt(expires.Unix(), 10) + "." +
		hex.EncodeToString(p.sessionMAC(id, expires.Unix(), token))
	c.Cookie(&fiber.Cookie{Name: merchantCookie, Value: value, Path: "/merchant", Expires: expires,
		HTTPOnly: true, Secure: p.Secure, SameSite: fiber.CookieSameSiteStrictMode})
}

// session returns the merchant a valid session cookie names.
func (p *MerchantPage) session(c *fiber.Ctx) (string, bool) {
	parts := strings.Split(c.Cookies(merchantCookie), ".")
	if len(parts) != 3 {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", false
	}
	id := string(raw)
	expires, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || p.Now().Unix() >= expires {
		return "", false
	}
	mac, err := hex.DecodeString(parts[2])
	token, ok := p.tokenOf(id)
	if err != nil || !ok || !hmac.Equal(mac, p.sessionMAC(id, expires, token)) {
		return "", false
	}
	return id, true
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(c *fiber.Ctx) string {
	scheme, token, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// sameSite reports whether a form post came from a page of this site (or
// the browser does not say).
func sameSite(c *fiber.Ctx) bool {
	site := c.Get("Sec-Fetch-Site")
	return site == "" || site == "same-origin" || site == "none"
}

type merchantView struct {
	Title, Heading, Merchant, Message string
	Alert                             string
	Refresh                           int
	Updated                           string
	Days                              int
	Stock                             []stockView
	Funnels                           []funnelView
	Orders                            []merchantOrderView
	MoreOrders                        bool
	CSV                               string
}

type stockView struct {
	Offer, Variant          string
	Total, Held, Sold, Left string
	Out                     bool
}

type merchantOrderView struct {
	Reference, Created, Status, Items, Total, Buyer, Email, Payment string
	Address                                                         []string
}

func (p *MerchantPage) render(c *fiber.Ctx, status int, name string, v merchantView) error {
	secureHeaders(c)
	if v.Title == "" {
		v.Title = v.Heading
	}
	if v.Merchant == "" {
		v.Merchant = "hashcart"
	}
	var b bytes.Buffer
	if err := merchantPage.ExecuteTemplate(&b, name, v); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(b.Bytes())
}

func (p *MerchantPage) signIn(c *fiber.Ctx, status int, alert string) error {
	if status == fiber.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hashcart merchant"`)
	}
	return p.render(c, status, "login", merchantView{Heading: "Merchant sign-in", Alert: alert})
}

func (p *MerchantPage) wrongToken(c *fiber.Ctx) error {
	p.Log.Warn("merchant page: wrong token", "ip", ClientIP(c), "path", c.Path())
	return p.signIn(c, fiber.StatusUnauthorized, "That token is not right. Check the merchant's dashboard_token and try again.")
}

func (p *MerchantPage) off(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusNotFound, "message", merchantView{Heading: "The merchant page is off",
		Message: "No merchant has a dashboard_token in the configuration."})
}

func (p *MerchantPage) show(c *fiber.Ctx) error {
	if len(p.Access) == 0 {
		return p.off(c)
	}
	if token := c.Query("token"); token != "" {
		id, ok, wait := p.checkToken(c, token)
		if wait > 0 {
			return p.tooManyTries(c, wait)
		}
		if !ok {
			return p.wrongToken(c)
		}
		p.newSession(c, id)
		secureHeaders(c)
		return c.Redirect("/merchant", fiber.StatusSeeOther) // the token leaves the address bar
	}
	id, ok := p.session(c)
	if !ok {
		return p.signIn(c, fiber.StatusOK, "")
	}
	return p.dashboard(c, id)
}

func (p *MerchantPage) login(c *fiber.Ctx) error {
	if len(p.Access) == 0 {
		return p.off(c)
	}
	if !sameSite(c) {
		return p.signIn(c, fiber.StatusForbidden, "Please sign in from this page.")
	}
	id, ok, wait := p.checkToken(c, strings.TrimSpace(c.FormValue("token")))
	if wait > 0 {
		return p.tooManyTries(c, wait)
	}
	if !ok {
		return p.wrongToken(c)
	}
	p.newSession(c, id)
	secureHeaders(c)
	return c.Redirect("/merchant", fiber.StatusSeeOther)
}

func (p *MerchantPage) logout(c *fiber.Ctx) error {
	c.Cookie(&fiber.Cookie{Name: merchantCookie, Value: "", Path: "/merchant", Expires: time.Unix(0, 0), MaxAge: -1,
		HTTPOnly: true, Secure: p.Secure, SameSite: fiber.CookieSameSiteStrictMode})
	secureHeaders(c)
	return c.Redirect("/merchant", fiber.StatusSeeOther)
}

// days reads the period (?days=, default 30) in whole days.
func days(c *fiber.Ctx) int {
	n, err := strconv.Atoi(c.Query("days"))
	if err != nil || n < 1 {
		return defaultDays
	}
	return min(n, maxDays)
}

func (p *MerchantPage) csv(c *fiber.Ctx) error {
	id, ok := p.session(c)
	if t := bearer(c); t != "" {
		var wait time.Duration
		if id, ok, wait = p.checkToken(c, t); wait > 0 {
			secureHeaders(c)
			in := retryAfter(c, wait)
			return c.Status(fiber.StatusTooManyRequests).SendString("too many wrong dashboard tokens came from this address; try again in " + in + "\n")
		}
	}
	if !ok {
		p.Log.Warn("merchant page: orders.csv refused", "ip", ClientIP(c))
		secureHeaders(c)
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hashcart merchant"`)
		return c.Status(fiber.StatusUnauthorized).SendString("a valid dashboard token is required (Authorization: Bearer, or sign in at /merchant)\n")
	}
	n := days(c)
	orders, err := p.Orders.MerchantOrders(c.UserContext(), id, p.Now().Add(-time.Duration(n)*24*time.Hour))
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := commerce.WriteOrdersCSV(&b, orders); err != nil {
		return err
	}
	secureHeaders(c)
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-orders-%s.csv"`, id, p.Now().UTC().Format("2006-01-02")))
	return c.Send(b.Bytes())
}

func (p *MerchantPage) dashboard(c *fiber.Ctx, id string) error {
	ctx := c.UserContext()
	now := p.Now()
	n := days(c)
	since := now.Add(-time.Duration(n) * 24 * time.Hour)
	cat := p.Catalog()
	name := id
	m, known := cat.Merchant(id)
	if known && m.Name != "" {
		name = m.Name
	}
	title := func(offerID string) string {
		if o, ok := cat.Offer(id, offerID); ok {
			return o.Title
		}
		return offerID + " (no longer offered)"
	}
	v := merchantView{Heading: name, Merchant: name, Days: n, Refresh: int(p.Refresh.Seconds()),
		Updated: now.UTC().Format("2006-01-02 15:04:05") + " UTC", CSV: "/merchant/orders.csv?days=" + strconv.Itoa(n)}

	levels, err := p.Shop.MerchantStock(ctx, id)
	if err != nil {
		return err
	}
	v.Stock = stockViews(levels, cat, id, title)

	funnels, err := p.Shop.Funnel(ctx, id, since)
	if err != nil {
		return err
	}
	for _, f := range orderedFunnels(funnels, m) {
		v.Funnels = append(v.Funnels, newFunnelView(title(f.OfferID), f))
	}

	orders, err := p.Orders.LatestMerchantOrders(ctx, id, merchantOrdersShown+1)
	if err != nil {
		return err
	}
	if len(orders) > merchantOrdersShown {
		orders, v.MoreOrders = orders[:merchantOrdersShown], true
	}
	ids := make([]string, 0, len(orders))
	for _, o := range orders {
		ids = append(ids, o.BuyerID)
	}
	handles, err := p.Shop.ScreenNames(ctx, ids)
	if err != nil {
		return err
	}
	for _, o := range orders {
		v.Orders = append(v.Orders, orderRowView(o, handles[o.BuyerID]))
	}
	return p.render(c, fiber.StatusOK, "dashboard", v)
}

// stockViews lists the stock counters in catalog order, then any counter
// of an offer no longer in the catalog.
func stockViews(levels []commerce.StockLevel, cat *commerce.Catalog, merchantID string, title func(string) string) []stockView {
	order := map[string]int{}
	if m, ok := cat.Merchant(merchantID); ok {
		for i, o := range m.Offers {
			order[o.ID] = i + 1
		}
	}
	rank := func(id string) int {
		if r, ok := order[id]; ok {
			return r
		}
		return len(order) + 1
	}
	sorted := append([]commerce.StockLevel(nil), levels...)
	for i := 1; i < len(sorted); i++ { // insertion sort: stable, and lists are short
		for j := i; j > 0 && rank(sorted[j].OfferID) < rank(sorted[j-1].OfferID); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	out := make([]stockView, 0, len(sorted))
	for _, l := range sorted {
		s := stockView{Offer: title(l.OfferID), Variant: l.Variant, Held: strconv.Itoa(l.Held), Sold: strconv.Itoa(l.Sold),
			Total: "unlimited", Left: "unlimited"}
		if l.Variant == "" {
			s.Variant = "—"
		}
		if l.Total != nil {
			left := *l.Available()
			s.Total, s.Left, s.Out = strconv.Itoa(*l.Total), strconv.Itoa(left), left <= 0
		}
		out = append(out, s)
	}
	return out
}

// orderedFunnels puts the funnels in catalog order, listing every offer
// of the catalog (zeros included), then offers no longer in it.
func orderedFunnels(fs []commerce.OfferFunnel, m *commerce.Merchant) []commerce.OfferFunnel {
	byID := map[string]commerce.OfferFunnel{}
	for _, f := range fs {
		byID[f.OfferID] = f
	}
	var out []commerce.OfferFunnel
	if m != nil {
		for _, o := range m.Offers {
			f, ok := byID[o.ID]
			if !ok {
				f = commerce.OfferFunnel{OfferID: o.ID}
			}
			out = append(out, f)
			delete(byID, o.ID)
		}
	}
	for _, f := range fs {
		if _, ok := byID[f.OfferID]; ok {
			out = append(out, f)
		}
	}
	return out
}

func orderRowView(o commerce.Order, handle string) merchantOrderView {
	items := make([]string, len(o.Lines))
	for i, l := range o.Lines {
		items[i] = strconv.Itoa(l.Quantity) + " × " + l.Title
		if l.Variant != "" {
			items[i] += " (" + l.Variant + ")"
		}
	}
	buyer := "X user " + o.BuyerID
	if handle != "" {
		buyer = "@" + handle
	}
	a := o.Shipping
	var addr []string
	for _, line := range []string{a.Name, a.Line1, a.Line2, strings.TrimSpace(strings.Join(nonEmpty(a.City, a.Region, a.PostalCode), " ")), a.Country} {
		if line != "" {
			addr = append(addr, line)
		}
	}
	return merchantOrderView{Reference: o.Reference(), Created: o.CreatedAt.UTC().Format("2006-01-02 15:04"), Status: string(o.Status),
		Items: strings.Join(items, "; "), Total: o.Total.String(), Buyer: buyer, Email: o.Contact.Email, Payment: o.PaymentRef, Address: addr}
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
