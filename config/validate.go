package config

import (
	"errors"
	"fmt"
	"github.com/robfig/cron/v3"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashcart/hashcart/commerce"
)

// validator checks a decoded Config, applies the defaults that depend on
// other fields, and records a problem for everything wrong.
type validator struct {
	ps    *Problems
	lines map[string]int // from decoder.lines
	bad   map[string]bool
}

// line returns the line of path, or of its nearest ancestor present in the
// file, or 1.
func (v *validator) line(path string) int {
	for path != "" {
		if l, ok := v.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 1
}

// failed reports whether path or a value containing it could not be
// decoded, in which case the decoder has already reported it.
func (v *validator) failed(path string) bool {
	for path != "" {
		if v.bad[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return false
		}
		path = path[:i]
	}
	return false
}

func (v *validator) add(path, hint, format string, args ...any) {
	v.ps.add(v.line(path), hint, "%s: %s", where(path), fmt.Sprintf(format, args...))
}

// required reports path as missing when value is empty and the file did
// not already have an undecodable value there.
func (v *validator) required(path, value, hint string) bool {
	if value != "" {
		return true
	}
	if !v.failed(path) {
		v.add(path, hint, "is required")
	}
	return false
}

// oneOf reports value unless it is one of allowed.
func (v *validator) oneOf(path, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		v.add(path, "use "+orList(allowed), "%q is not supported", value)
	}
}

func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// positive reports n unless it is more than zero.
func (v *validator) positive(path string, n int64, shown string) {
	if n <= 0 && !v.failed(path) {
		v.add(path, "", "must be more than 0, got %s", shown)
	}
}

// httpURL reports s unless it is an absolute http or https URL.
func (v *validator) httpURL(path, s, example string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(path, "write an absolute URL such as "+example, "%q is not an absolute http(s) URL", s)
	}
}

var (
	idPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	digitsPattern = regexp.MustCompile(`^[0-9]+$`)
)

func (v *validator) validate(c *Config) {
	v.server(c.Server)
	v.storage(c.Storage)
	v.x(c.X)
	v.oneOf("payments.provider", c.Payments.Provider, "sandbox", "stripe")
	if c.Payments.Provider == "stripe" {
		st := c.Payments.Stripe
		v.required("payments.stripe.api_key", st.APIKey, "your Stripe secret key, e.g. ${STRIPE_SECRET_KEY}")
		v.required("payments.stripe.webhook_secret", st.WebhookSecret, "the signing secret of your Stripe webhook endpoint, e.g. ${STRIPE_WEBHOOK_SECRET}")
		if v.required("payments.stripe.api_base_url", st.APIBaseURL, "https://api.stripe.com") {
			v.httpURL("payments.stripe.api_base_url", st.APIBaseURL, "https://api.stripe.com")
		}
	}
	v.positive("checkout.hold", int64(c.Checkout.Hold.Duration), c.Checkout.Hold.String())
	v.positive("checkout.cart_link_ttl", int64(c.Checkout.CartLinkTTL.Duration), c.Checkout.CartLinkTTL.String())
	v.positive("intake.workers", int64(c.Intake.Workers), fmt.Sprint(c.Intake.Workers))
	v.positive("intake.batch", int64(c.Intake.Batch), fmt.Sprint(c.Intake.Batch))
	v.positive("intake.poll_interval", int64(c.Intake.PollInterval.Duration), c.Intake.PollInterval.String())
	v.positive("intake.max_attempts", int64(c.Intake.MaxAttempts), fmt.Sprint(c.Intake.MaxAttempts))
	v.outbox(c.Outbox)
	v.positive("jobs.handoff_lease", int64(c.Jobs.HandoffLease.Duration), c.Jobs.HandoffLease.String())
	if _, _, err := parseQuiet(c.Reminders.QuietHours); err != nil {
		v.add("reminders.quiet_hours", `like "22:00-08:00" (UTC), or empty`, "%v", err)
	}
	for i, d := range c.Reminders.After {
		if d.Duration <= 0 || (i > 0 && d.Duration <= c.Reminders.After[i-1].Duration) {
			v.add("reminders.after", "steps such as [1h, 24h], each later than the one before", "step %d (%s) must be positive and after the previous step", i+1, d)
		}
	}
	for path, spec := range map[string]string{"jobs.expire_holds": c.Jobs.ExpireHolds, "jobs.handoff": c.Jobs.Handoff, "jobs.reminders": c.Jobs.Reminders} {
		if _, err := cronParser.Parse(spec); err != nil {
			v.add(path, `a cron spec like "*/10 * * * * *" or "@every 10s"`, "not a schedule: %v", err)
		}
	}
	v.oneOf("log.format", c.Log.Format, "text", "json")
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.metrics(c.Metrics)
	v.merchants(c.Merchants)
}

func (v *validator) outbox(o Outbox) {
	v.positive("outbox.workers", int64(o.Workers), fmt.Sprint(o.Workers))
	v.positive("outbox.batch", int64(o.Batch), fmt.Sprint(o.Batch))
	v.positive("outbox.concurrency", int64(o.Concurrency), fmt.Sprint(o.Concurrency))
	v.positive("outbox.poll_interval", int64(o.PollInterval.Duration), o.PollInterval.String())
	v.positive("outbox.window", int64(o.Window.Duration), o.Window.String())
	v.positive("outbox.per_account", int64(o.PerAccount), fmt.Sprint(o.PerAccount))
	v.positive("outbox.per_app", int64(o.PerApp), fmt.Sprint(o.PerApp))
	v.positive("outbox.max_age", int64(o.MaxAge.Duration), o.MaxAge.String())
	v.positive("outbox.lease", int64(o.Lease.Duration), o.Lease.String())
	if o.PerAccount > 0 && o.PerApp > 0 && o.PerApp < o.PerAccount && !v.failed("outbox.per_app") {
		v.add("outbox.per_app", "the app's budget covers every account; make it at least per_account",
			"%d is less than per_account %d", o.PerApp, o.PerAccount)
	}
	if o.Lease.Duration > 0 && o.Lease.Duration < 2*time.Second && !v.failed("outbox.lease") {
		v.add("outbox.lease", "a request to X may take half the lease; use 30s", "%s is too short for a request to X", o.Lease)
	}
}

func (v *validator) server(s Server) {
	if v.required("server.listen", s.Listen, `e.g. ":8080"`) {
		if _, port, err := net.SplitHostPort(s.Listen); err != nil || !digitsPattern.MatchString(port) {
			v.add("server.listen", `write host:port, e.g. ":8080" or "127.0.0.1:8080"`, "%q is not a listen address", s.Listen)
		}
	}
	if v.required("server.public_url", s.PublicURL, "checkout links are built from it") {
		v.httpURL("server.public_url", s.PublicURL, "https://shop.example.com")
	}
	v.positive("server.max_body", int64(s.MaxBody), s.MaxBody.String())
	v.positive("server.shutdown_timeout", int64(s.ShutdownTimeout.Duration), s.ShutdownTimeout.String())
	if s.PageConcurrency < 0 {
		v.add("server.page_concurrency", "leave it out for one more than the cores, or give a number of pages", "%d is negative", s.PageConcurrency)
	}
	for i, e := range s.TrustedProxies {
		path := fmt.Sprintf("server.trusted_proxies[%d]", i)
		if _, ok := parseProxy(e); !ok && !v.failed(path) {
			v.add(path, `write an address or a CIDR range, e.g. "10.0.0.0/8" or "192.0.2.1"`, "%q is not an IP address or range", e)
		}
	}
}

func (v *validator) storage(s Storage) {
	v.oneOf("storage.driver", s.Driver, "sqlite", "postgres")
	v.required("storage.dsn", s.DSN, `a file name for sqlite, a postgres:// URL for postgres`)
	v.positive("storage.max_open_conns", int64(s.MaxOpenConns), fmt.Sprint(s.MaxOpenConns))
}

func (v *validator) x(x X) {
	v.oneOf("x.api_version", x.APIVersion, "2", "1.1")
	if v.required("x.api_base_url", x.APIBaseURL, "https://api.x.com, or the simulator's URL") {
		v.httpURL("x.api_base_url", x.APIBaseURL, "https://api.x.com")
	}
	v.required("x.consumer_secret", x.ConsumerSecret,
		"it signs X webhooks; e.g. consumer_secret: ${HASHCART_X_CONSUMER_SECRET}")
	if v.required("x.webhook_path", x.WebhookPath, "e.g. /webhooks/x") && !strings.HasPrefix(x.WebhookPath, "/") {
		v.add("x.webhook_path", "write a path such as /webhooks/x", "%q does not start with /", x.WebhookPath)
	}
}

// postClaim records which merchant first listed a post id, and where.
type postClaim struct {
	merchant int
	path     string
}

func (v *validator) merchants(ms []Merchant) {
	ids := map[string]string{}      // merchant id -> path of first use
	users := map[string]string{}    // x_user_id -> path of first use
	posts := map[string]postClaim{} // post id -> first claim
	tokens := map[string]string{}   // dashboard_token -> path of first use
	for i := range ms {
		m := &ms[i]
		p := fmt.Sprintf("merchants[%d]", i)
		m.Line = v.line(p)
		if v.required(p+".id", m.ID, "a short name such as acme, used in URLs and logs") {
			if !idPattern.MatchString(m.ID) {
				v.add(p+".id", "use letters, digits, - and _", "%q is not a valid id", m.ID)
			}
			if first, dup := ids[m.ID]; dup {
				v.add(p+".id", "merchant ids must be unique", "duplicate merchant id %q (first at line %d)", m.ID, v.line(first))
			} else {
				ids[m.ID] = p + ".id"
			}
		}
		if v.required(p+".x_user_id", m.XUserID, `the merchant's numeric X user id, quoted: "2244994945"`) {
			if !digitsPattern.MatchString(m.XUserID) {
				v.add(p+".x_user_id", "the numeric X user id; the @name goes in x_screen_name", "%q is not all digits", m.XUserID)
			}
			if first, dup := users[m.XUserID]; dup {
				v.add(p+".x_user_id", "one X account can belong to one merchant only", "duplicate x_user_id %q (first at line %d)", m.XUserID, v.line(first))
			} else {
				users[m.XUserID] = p + ".x_user_id"
			}
		}
		currencyOK := false
		if v.required(p+".currency", m.Currency, "an ISO 4217 code such as USD") {
			if _, ok := commerce.CurrencyExponent(m.Currency); ok {
				currencyOK = true
			} else {
				hint := "use an ISO 4217 code such as USD, EUR or JPY"
				if _, ok := commerce.CurrencyExponent(strings.ToUpper(m.Currency)); ok {
					hint = fmt.Sprintf("write it in upper case: %s", strings.ToUpper(m.Currency))
				}
				v.add(p+".currency", hint, "%q is not an ISO 4217 currency", m.Currency)
			}
		}
		if m.OrderWebhook.URL != "" {
			v.httpURL(p+".order_webhook.url", m.OrderWebhook.URL, "https://shop.example/orders")
			v.required(p+".order_webhook.secret", m.OrderWebhook.Secret, "it signs each order sent to url")
		}
		v.dashboardToken(p+".dashboard_token", m.DashboardToken, tokens)
		offerIDs := map[string]string{}
		for j := range m.Offers {
			o := &m.Offers[j]
			op := fmt.Sprintf("%s.offers[%d]", p, j)
			o.Line = v.line(op)
			if v.required(op+".id", o.ID, "a short name such as signed-vinyl") {
				if !idPattern.MatchString(o.ID) {
					v.add(op+".id", "use letters, digits, - and _", "%q is not a valid id", o.ID)
				}
				if first, dup := offerIDs[o.ID]; dup {
					v.add(op+".id", "offer ids must be unique within a merchant", "duplicate offer id %q (first at line %d)", o.ID, v.line(first))
				} else {
					offerIDs[o.ID] = op + ".id"
				}
			}
			v.required(op+".title", o.Title, "what the shopper sees in the DM and on the checkout page")
			if v.required(op+".price", o.Price, `a quoted decimal in the merchant's currency, e.g. "25.00"; "0" for a giveaway`) && currencyOK {
				v.price(op+".price", o, m.Currency)
			}
			v.offer(op, o)
			for k, id := range o.PostIDs {
				pp := fmt.Sprintf("%s.post_ids[%d]", op, k)
				if !digitsPattern.MatchString(id) {
					v.add(pp, "the numeric id at the end of the post's URL, quoted", "post id %q is not all digits", id)
					continue
				}
				if first, ok := posts[id]; ok && first.merchant != i {
					v.add(pp, "a post belongs to one merchant; remove it from one of them",
						"post id %s is already claimed by merchant %q at line %d", id, ms[first.merchant].ID, v.line(first.path))
				} else if !ok {
					posts[id] = postClaim{merchant: i, path: pp}
				}
			}
		}
	}
}

// MinDashboardToken is the shortest dashboard_token accepted: long enough
// that guessing one is hopeless.
const MinDashboardToken = 32

// dashboardToken checks a merchant's dashboard_token: empty (page off), or
// long and not shared with another merchant. The token itself is never put
// in a problem.
func (v *validator) dashboardToken(path, token string, seen map[string]string) {
	if token == "" {
		return
	}
	if n := utf8.RuneCountInString(token); n < MinDashboardToken {
		v.add(path, "generate one with: openssl rand -hex 24", "is %d characters, must be at least %d", n, MinDashboardToken)
	}
	if first, dup := seen[token]; dup {
		v.add(path, "each merchant needs its own token: it shows that merchant's orders", "is the same as the token at line %d", v.line(first))
	} else {
		seen[token] = path
	}
}

func (v *validator) price(path string, o *Offer, currency string) {
	amount, err := commerce.ParseAmount(o.Price, currency)
	if err == nil {
		o.Amount = amount
		return
	}
	exp, _ := commerce.CurrencyExponent(currency)
	switch {
	case errors.Is(err, commerce.ErrTooManyDecimals):
		v.add(path, fmt.Sprintf("%s has %d decimal places", currency, exp), "%q has more decimals than %s allows", o.Price, currency)
	case errors.Is(err, commerce.ErrNegativeAmount):
		v.add(path, `a price is 0 or more; "0" makes a giveaway`, "%q is negative", o.Price)
	default:
		v.add(path, `write a plain decimal such as "25.00", without symbol or separators`, "%q is not a price", o.Price)
	}
}

// offer checks an offer's stock, window, tags, destinations and variants,
// and fills its tag defaults and its stock from its variants.
func (v *validator) offer(op string, o *Offer) {
	if o.Stock != nil && *o.Stock < 0 {
		v.add(op+".stock", "leave stock out for unlimited", "is %d, must be 0 or more", *o.Stock)
	}
	if o.PerCustomerLimit < 0 {
		v.add(op+".per_customer_limit", "0 or leaving it out means no limit", "is %d, must be 0 or more", o.PerCustomerLimit)
	}
	if o.StartsAt != nil && o.EndsAt != nil && !o.EndsAt.After(*o.StartsAt) {
		v.add(op+".ends_at", "", "%s is not after starts_at %s", o.EndsAt.Format("2006-01-02T15:04:05Z07:00"), o.StartsAt.Format("2006-01-02T15:04:05Z07:00"))
	}
	if o.Hashtags == nil {
		o.Hashtags = []string{"#BuyNow"}
	}
	if o.CartTags == nil {
		o.CartTags = []string{"#AddToCart", "#Cart"}
	}
	if len(o.Hashtags) == 0 && len(o.CartTags) == 0 {
		v.add(op, "leave hashtags out for #BuyNow", "has no hashtags and no cart_tags, so nobody can buy it")
	}
	buy := map[string]bool{}
	for k, tag := range o.Hashtags {
		if v.tag(fmt.Sprintf("%s.hashtags[%d]", op, k), tag) {
			buy[strings.ToLower(tag)] = true
		}
	}
	for k, tag := range o.CartTags {
		p := fmt.Sprintf("%s.cart_tags[%d]", op, k)
		if v.tag(p, tag) && buy[strings.ToLower(tag)] {
			v.add(p, "a tag either buys now or adds to the cart; remove it from one list", "%s is in both hashtags and cart_tags", tag)
		}
	}
	for k, code := range o.ShipTo {
		if !commerce.ValidCountry(code) {
			hint := "use ISO 3166-1 alpha-2 codes such as US, GB, DE"
			switch up := strings.ToUpper(code); {
			case commerce.ValidCountry(up):
				hint = "write it in upper case: " + up
			case up == "UK":
				hint = "the United Kingdom is GB"
			}
			v.add(fmt.Sprintf("%s.ship_to[%d]", op, k), hint, "%q is not an ISO 3166-1 alpha-2 country code", code)
		}
	}
	for k, kw := range o.Keywords {
		if strings.TrimSpace(kw) == "" {
			v.add(fmt.Sprintf("%s.keywords[%d]", op, k), "remove it", "keyword is empty")
		}
	}
	v.variants(op, o)
}

// tag reports a hashtag that does not start with '#', is just '#', or has
// whitespace, and returns whether it is well formed.
func (v *validator) tag(path, tag string) bool {
	switch {
	case !strings.HasPrefix(tag, "#"):
		v.add(path, fmt.Sprintf("write \"#%s\", quoted: an unquoted # starts a YAML comment", tag), "%q does not start with #", tag)
	case len(tag) == 1:
		v.add(path, `e.g. "#BuyNow"`, "%q has no name after #", tag)
	case strings.ContainsFunc(tag, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0' || r == '\u3000'
	}):
		v.add(path, "a hashtag is one word, e.g. #BuyNow", "%q contains a space", tag)
	default:
		return true
	}
	return false
}

func (v *validator) variants(op string, o *Offer) {
	if len(o.Variants) == 0 {
		return
	}
	names := map[string]string{} // lower-cased name -> path of first use
	withStock, sum, negative := 0, 0, false
	for k, vr := range o.Variants {
		vp := fmt.Sprintf("%s.variants[%d]", op, k)
		if v.required(vp+".name", vr.Name, "e.g. black, or XL") {
			key := strings.ToLower(vr.Name)
			if first, dup := names[key]; dup {
				v.add(vp+".name", "variant names must differ, ignoring case", "duplicate variant name %q (first at line %d)", vr.Name, v.line(first))
			} else {
				names[key] = vp + ".name"
			}
		}
		if vr.Stock != nil {
			withStock++
			if *vr.Stock < 0 {
				v.add(vp+".stock", "leave stock out for unlimited", "is %d, must be 0 or more", *vr.Stock)
				negative = true
			} else {
				sum += *vr.Stock
			}
		}
	}
	switch {
	case withStock == 0, negative:
		return
	case withStock < len(o.Variants):
		v.add(op+".variants", "give every variant a stock, or none", "%d of %d variants have a stock", withStock, len(o.Variants))
		return
	}
	if o.Stock == nil {
		o.Stock = &sum
		return
	}
	if *o.Stock != sum {
		v.add(op+".variants", "make the variant stocks add up to stock, or leave stock out", "variant stocks add up to %d but stock is %d", sum, *o.Stock)
	}
}

// cronParser reads job schedules as package jobs does.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
