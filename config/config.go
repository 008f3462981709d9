package config

import (
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/hashcart/hashcart/commerce"
)

// Config is the whole configuration of one hashcart process. A *Config
// returned by Load or Parse has every default applied and has passed every
// check in this package; treat it as read-only.
type Config struct {
	// File is the path or name the configuration was read from.
	File      string     `yaml:"-"`
	Server    Server     `yaml:"server"`
	Storage   Storage    `yaml:"storage"`
	X         X          `yaml:"x"`
	Payments  Payments   `yaml:"payments"`
	Checkout  Checkout   `yaml:"checkout"`
	Intake    Intake     `yaml:"intake"`
	Outbox    Outbox     `yaml:"outbox"`
	Jobs      Jobs       `yaml:"jobs"`
	Reminders Reminders  `yaml:"reminders"`
	Log       Log        `yaml:"log"`
	Metrics   Metrics    `yaml:"metrics"`
	Merchants []Merchant `yaml:"merchants"`
}

// Server is the HTTP listener. PublicURL is an absolute http(s) URL that
// checkout links are built from; MaxBody and ShutdownTimeout are positive.
type Server struct {
	Listen          string   `yaml:"listen"`
	PublicURL       string   `yaml:"public_url"`
	MaxBody         ByteSize `yaml:"max_body"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// PageConcurrency is how many checkout and order pages render at once;
	// more wait in line for a slot. 0 (the default): one more than the
	// CPU cores the process may use.
	PageConcurrency int `yaml:"page_concurrency"`
	// TrustedProxies lists the reverse proxies in front of hashcart, as
	// addresses or CIDR ranges ("10.0.0.0/8", "192.0.2.1"). A request whose
	// connection comes from one of them is from the client that
	// X-Forwarded-For names: the rightmost address there that is not a
	// trusted proxy itself, so that an address a client writes into the
	// header is never taken. Empty (the default): the connection's address
	// is the client's, and X-Forwarded-For is ignored. The client's address
	// is what the merchant page's sign-in bound counts and what logs show.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Proxies returns TrustedProxies as address ranges (an address is a range
// of one); an entry that does not parse (validation reports it) is left
// out.
func (s Server) Proxies() []netip.Prefix {
	var out []netip.Prefix
	for _, e := range s.TrustedProxies {
		if p, ok := parseProxy(e); ok {
			out = append(out, p)
		}
	}
	return out
}

// parseProxy reads one trusted_proxies entry: a CIDR range or an address.
func parseProxy(e string) (netip.Prefix, bool) {
	e = strings.TrimSpace(e)
	if p, err := netip.ParsePrefix(e); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(e); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// Storage selects the database. Driver is "sqlite" or "postgres"; DSN is
// not empty; MaxOpenConns is positive.
type Storage struct {
	Driver       string `yaml:"driver"`
	DSN          string `yaml:"dsn"`
	MaxOpenConns int    `yaml:"max_open_conns"`
}

// X is the app's access to the X API. APIVersion is "2" or "1.1",
// APIBaseURL is an absolute http(s) URL, ConsumerSecret is not empty (it
// signs webhook challenges and deliveries), WebhookPath starts with "/".
type X struct {
	APIVersion     string `yaml:"api_version"`
	APIBaseURL     string `yaml:"api_base_url"`
	ConsumerKey    string `yaml:"consumer_key"`
	ConsumerSecret string `yaml:"consumer_secret"`
	WebhookPath    string `yaml:"webhook_path"`
	// Environment is the Account Activity dev environment label, needed by
	// "hashcart webhook" with APIVersion "1.1" only.
	Environment string `yaml:"environment"`
}

// Payments selects the payment provider: "sandbox" or "stripe".
type Payments struct {
	Provider string         `yaml:"provider"`
	Stripe   PaymentsStripe `yaml:"stripe"`
}

// PaymentsStripe configures provider: stripe.
type PaymentsStripe struct {
	// APIKey is the secret key (sk_live_..., sk_test_...).
	APIKey string `yaml:"api_key"`
	// APIBaseURL is Stripe's API root; a local stripe-mock in tests.
	APIBaseURL string `yaml:"api_base_url"`
	// WebhookSecret verifies Stripe-Signature (whsec_...).
	WebhookSecret string `yaml:"webhook_secret"`
}

// Checkout is how checkouts behave. Hold, the time stock stays reserved
// for a shopper who has not paid yet, is positive.
type Checkout struct {
	Hold Duration `yaml:"hold"`
	// CartLinkTTL is how long a link to a cart stays valid (a cart holds
	// no stock, so it may live longer than a hold).
	CartLinkTTL Duration `yaml:"cart_link_ttl"`
}

// Intake is the worker pool that processes inbox events. Every field is
// positive.
type Intake struct {
	Workers      int      `yaml:"workers"`
	Batch        int      `yaml:"batch"`
	PollInterval Duration `yaml:"poll_interval"`
	MaxAttempts  int      `yaml:"max_attempts"`
}

// Jobs are the schedules of background work: standard cron specs with an
// optional leading seconds field, or "@every 10s". Any number of instances
// may run the same schedules; each unit of work is claimed once.
type Jobs struct {
	// ExpireHolds returns the units of expired holds to stock.
	ExpireHolds string `yaml:"expire_holds"`
	// Handoff sends paid orders to the merchants' order_webhook.
	Handoff string `yaml:"handoff"`
	// Reminders nudges buyers about carts and holds they left.
	Reminders string `yaml:"reminders"`
	// HandoffLease is how long an instance keeps a claimed delivery before
	// another may retry it.
	HandoffLease Duration `yaml:"handoff_lease"`
}

// Reminders says when buyers are reminded of carts and unpaid holds.
type Reminders struct {
	// After are the steps, counted from the cart's last change or the
	// first hold; each is sent once. Empty turns reminders off.
	After []Duration `yaml:"after"`
	// QuietHours is "HH:MM-HH:MM" (UTC) when no reminder goes out; empty
	// for none.
	QuietHours string `yaml:"quiet_hours"`
}

// Quiet returns the quiet hours as times of day; equal when none. Call it
// on a validated configuration.
func (r Reminders) Quiet() (from, to time.Duration) {
	from, to, _ = parseQuiet(r.QuietHours)
	return from, to
}

func parseQuiet(s string) (from, to time.Duration, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("want HH:MM-HH:MM")
	}
	clock := func(x string) (time.Duration, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%q is not HH:MM", strings.TrimSpace(x))
		}
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
	}
	if from, err = clock(a); err != nil {
		return 0, 0, err
	}
	if to, err = clock(b); err != nil {
		return 0, 0, err
	}
	return from, to, nil
}

// Outbox is the pool that sends messages to X, and the rate budget all
// instances share through the database. Every field is positive. Window is
// the fixed window PerAccount (sends by one merchant's account) and PerApp
// (sends by all accounts) count in; MaxAge is how long a message may stay
// unsent before it is given up; Lease is how long a claimed message is kept
// from other senders (a request to X is abandoned after half of it).
// Workers is how many claim-and-send loops run in each instance; Batch is
// how many messages one claim takes; Concurrency is how many requests to X
// one loop has in flight.
type Outbox struct {
	Workers      int      `yaml:"workers"`
	Batch        int      `yaml:"batch"`
	Concurrency  int      `yaml:"concurrency"`
	PollInterval Duration `yaml:"poll_interval"`
	Window       Duration `yaml:"window"`
	PerAccount   int      `yaml:"per_account"`
	PerApp       int      `yaml:"per_app"`
	MaxAge       Duration `yaml:"max_age"`
	Lease        Duration `yaml:"lease"`
}

// Log is the slog output. Format is "text" or "json"; Level is "debug",
// "info", "warn" or "error".
type Log struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

// Merchant is one shop and its X account. ID is unique and made of letters,
// digits, '-' and '_'; XUserID is unique and all digits; Currency is an ISO
// 4217 code every offer's price is in. Line is where it starts in the file.
type Merchant struct {
	ID           string       `yaml:"id"`
	Name         string       `yaml:"name"`
	XUserID      string       `yaml:"x_user_id"`
	XScreenName  string       `yaml:"x_screen_name"`
	AccessToken  string       `yaml:"access_token"`
	AccessSecret string       `yaml:"access_secret"`
	Currency     string       `yaml:"currency"`
	OrderWebhook OrderWebhook `yaml:"order_webhook"`
	// DashboardToken opens the merchant page (/merchant) on this merchant's
	// orders only; empty turns the page off for the merchant. When set it
	// is at least MinDashboardToken characters and unique.
	DashboardToken string  `yaml:"dashboard_token"`
	Offers         []Offer `yaml:"offers"`
	// Templates overrides the bot's answers by name (text/template); see
	// the README for the names and the fields each may use.
	Templates map[string]string `yaml:"templates"`
	Line      int               `yaml:"-"`
}

// OrderWebhook is where paid orders are sent. When URL is set it is an
// absolute http(s) URL and Secret, which signs each delivery, is not empty.
type OrderWebhook struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"`
}

// Offer is one thing a merchant sells from a post. ID is unique within its
// merchant; Amount is Price parsed exactly in the merchant's currency (zero
// for a giveaway). Hashtags buy and CartTags add to a cart: each starts with
// '#', and no tag is in both lists. When every variant has a stock, Stock is
// their sum.
type Offer struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
	Price string `yaml:"price"`
	// Amount is Price parsed in the merchant's currency.
	Amount commerce.Money `yaml:"-"`
	// Stock is the number for sale; nil means unlimited.
	Stock *int `yaml:"stock"`
	// PerCustomerLimit caps how many one shopper may buy; 0 means no limit.
	PerCustomerLimit int `yaml:"per_customer_limit"`
	// StartsAt and EndsAt bound the sale when set; EndsAt is after StartsAt.
	StartsAt *time.Time `yaml:"starts_at"`
	EndsAt   *time.Time `yaml:"ends_at"`
	// PostIDs are the X posts the offer is sold from. A post belongs to one
	// merchant, though several offers of that merchant may share it.
	PostIDs  []string `yaml:"post_ids"`
	Hashtags []string `yaml:"hashtags"`
	CartTags []string `yaml:"cart_tags"`
	Keywords []string `yaml:"keywords"`
	// ShipTo lists ISO 3166-1 alpha-2 country codes.
	ShipTo   []string  `yaml:"ship_to"`
	Variants []Variant `yaml:"variants"`
	Line     int       `yaml:"-"`
}

// Variant is one choice of an offer (a size, a colour). Names are unique
// within an offer regardless of case. Stock is nil for unlimited; either
// every variant of an offer has a stock or none has.
type Variant struct {
	Name  string `yaml:"name"`
	Stock *int   `yaml:"stock"`
}

// defaults returns a Config holding every default; the file overrides it.
func defaults() *Config {
	return &Config{
		Server: Server{
			Listen:          ":8080",
			PublicURL:       "http://localhost:8080",
			MaxBody:         1 << 20,
			ShutdownTimeout: Duration{15 * time.Second},
		},
		Storage:  Storage{Driver: "sqlite", DSN: "hashcart.db", MaxOpenConns: 10},
		X:        X{APIVersion: "2", APIBaseURL: "https://api.x.com", WebhookPath: "/webhooks/x"},
		Payments: Payments{Provider: "sandbox", Stripe: PaymentsStripe{APIBaseURL: "https://api.stripe.com"}},
		Checkout: Checkout{Hold: Duration{15 * time.Minute}, CartLinkTTL: Duration{24 * time.Hour}},
		Intake:   Intake{Workers: 4, Batch: 100, PollInterval: Duration{250 * time.Millisecond}, MaxAttempts: 10},
		Log:      Log{Format: "text", Level: "info"},
		Metrics:  Metrics{Enabled: true, Path: "/metrics"},
		Outbox: Outbox{
			Workers: 3, Batch: 64, Concurrency: 32, PollInterval: Duration{200 * time.Millisecond},
			Window: Duration{15 * time.Minute}, PerAccount: 300, PerApp: 3000,
			MaxAge: Duration{time.Hour}, Lease: Duration{30 * time.Second},
		},
		Jobs:      Jobs{ExpireHolds: "@every 10s", Handoff: "@every 5s", Reminders: "@every 1m", HandoffLease: Duration{time.Minute}},
		Reminders: Reminders{After: []Duration{{time.Hour}, {24 * time.Hour}}},
	}
}

// Load reads the configuration file at path, expanding ${VAR} references
// from the process environment, as Parse does. An unreadable file is a
// wrapped os error; a file with mistakes is a *Problems listing them all.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse reads a configuration from data, naming it file in problems and
// Config.File. It expands ${VAR} and ${VAR:-default} in scalar values with
// getenv, decodes, applies defaults and checks everything. On any mistake it
// returns a nil Config and a *Problems holding every problem found, each with
// its line; otherwise the Config is complete and valid.
func Parse(file string, data []byte, getenv func(string) (string, bool)) (*Config, error) {
	ps := &Problems{File: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg, hint := syntaxProblem(err, data)
		ps.add(line, hint, "%s", msg)
		return nil, ps
	}
	c := defaults()
	c.File = file
	d := newDecoder(ps, &doc)
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		expandEnv(root, getenv, ps)
		d.decode(root, reflect.ValueOf(c).Elem(), "")
	}
	if d.budget > 0 { // a file cut short by the budget is not worth checking
		v := &validator{ps: ps, lines: d.lines, bad: d.bad}
		v.validate(c)
	}
	if len(ps.List) > 0 {
		ps.sort()
		return nil, ps
	}
	return c, nil
}

var (
	yamlErrorLine     = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	yamlUnknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// parserProblems are the yaml.v3 messages raised by its parser rather than
// its scanner. For those yaml.v3 reports the 0-based line where the
// enclosing block or flow collection starts, so one is added.
var parserProblems = []string{
	"did not find expected key",
	"did not find expected ',' or '}'",
	"did not find expected ',' or ']'",
	"did not find expected '-' indicator",
	"did not find expected node content",
	"did not find expected <document start>",
}

// syntaxProblem turns a yaml.v3 syntax error into a 1-based line (1 when
// the error locates nothing), a message and a hint.
func syntaxProblem(err error, data []byte) (line int, msg, hint string) {
	msg = err.Error()
	lines := yamlLines(data)
	if m := yamlErrorLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if slices.Contains(parserProblems, msg) {
			line++
			msg += " in the block or { } [ ] that starts here"
		}
	} else if m := yamlUnknownAnchor.FindStringSubmatch(msg); m != nil {
		for i, l := range lines {
			if strings.Contains(l, "*"+m[1]) {
				line = i + 1
				break
			}
		}
		return max(line, 1), strings.TrimPrefix(msg, "yaml: "), "define it with &" + m[1] + " before using *" + m[1]
	}
	// yaml.v3 may point one past the last line when the input ends early.
	line = min(max(line, 1), len(lines))
	msg = strings.TrimPrefix(msg, "yaml: ")
	switch {
	case line <= len(lines) && strings.Contains(lines[line-1], "\t"):
		hint = "indent with spaces: YAML does not allow tabs"
	case line <= len(lines) && strings.Contains(lines[line-1], "${") && strings.ContainsAny(lines[line-1], "{["):
		hint = `quote ${...} values inside { } or [ ]: "${VAR}"`
	default:
		hint = "check indentation and quoting; quote values containing `: ` or ` #`, or starting with { [ * & ! @ or a quote"
	}
	return line, msg, hint
}

// yamlLines splits data at the line breaks YAML counts (\n, \r\n, \r,
// NEL, LS, PS), so its line numbers index the result.
func yamlLines(data []byte) []string {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	var lines []string
	start := 0
	for i, r := range s {
		if r == '\n' || r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029' {
			lines = append(lines, s[start:i])
			start = i + utf8.RuneLen(r)
		}
	}
	return append(lines, s[start:])
}

// Summary describes a valid configuration in one line, for the operator:
// "config.yaml: ok, 1 merchant, 3 offers, 2 variants".
func (c *Config) Summary() string {
	offers, variants := 0, 0
	for _, m := range c.Merchants {
		offers += len(m.Offers)
		for _, o := range m.Offers {
			variants += len(o.Variants)
		}
	}
	return fmt.Sprintf("%s: ok, %s, %s, %s", c.File,
		plural(len(c.Merchants), "merchant"), plural(offers, "offer"), plural(variants, "variant"))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// MerchantByXUserID returns the merchant whose X account has the numeric
// user id, pointing into c.Merchants, and false when there is none.
func (c *Config) MerchantByXUserID(id string) (*Merchant, bool) {
	for i := range c.Merchants {
		if c.Merchants[i].XUserID == id {
			return &c.Merchants[i], true
		}
	}
	return nil, false
}
