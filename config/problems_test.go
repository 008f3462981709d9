package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

// fixture builds a small valid file whose offer fields and tail can be
// changed. Line numbers are fixed:
//
//	1 x:            4 - id: acme      8 - id: o1
//	2   consumer_   5   x_user_id     9   title
//	3 merchants:    6   currency     10   price
//	                7   offers:      11.. tail (more offer keys, or more
//	                                      merchants, or top-level sections)
type fixture struct {
	currency string // default USD
	price    string // default "1.00"
	tail     string
}

func (f fixture) String() string {
	if f.currency == "" {
		f.currency = "USD"
	}
	if f.price == "" {
		f.price = `"1.00"`
	}
	return fmt.Sprintf(`x:
  consumer_secret: s
merchants:
  - id: acme
    x_user_id: "1"
    currency: %s
    offers:
      - id: o1
        title: T
        price: %s
%s`, f.currency, f.price, f.tail)
}

// problemsOf parses text and returns its problems, failing the test when
// the error is not a *Problems.
func problemsOf(t *testing.T, text string, getenv func(string) (string, bool)) []Problem {
	t.Helper()
	c, err := Parse("f.yaml", []byte(text), getenv)
	if err == nil {
		t.Fatalf("no problems reported; config: %+v", c)
	}
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T, not *Problems: %v", err, err)
	}
	if c != nil {
		t.Errorf("Parse returned a Config along with problems")
	}
	if len(ps.List) == 0 {
		t.Fatalf("*Problems with an empty list")
	}
	return ps.List
}

func TestFixtureIsValid(t *testing.T) {
	c, err := Parse("f.yaml", []byte(fixture{}.String()), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Summary(); got != "f.yaml: ok, 1 merchant, 1 offer, 0 variants" {
		t.Errorf("Summary() = %q", got)
	}
}

func TestEachProblemIsReportedAtItsLine(t *testing.T) {
	tests := []struct {
		name string
		f    fixture
		line int
		msg  string // the message contains this
		hint string // the hint contains this
	}{
		// Unknown keys.
		{"unknown offer key suggests the closest", fixture{tail: "        per_customer_limt: 2\n"},
			11, `merchants[0].offers[0]: unknown key "per_customer_limt"`, "did you mean `per_customer_limit`?"},
		{"unknown top-level key suggests the closest", fixture{tail: "checkuot: { hold: 1m }\n"},
			11, `top level: unknown key "checkuot"`, "did you mean `checkout`?"},
		{"unknown key far from any lists the keys", fixture{tail: "server: { colour: red }\n"},
			11, `server: unknown key "colour"`, "known keys here: listen, max_body, page_concurrency, public_url, shutdown_timeout, trusted_proxies"},
		{"unknown variant key", fixture{tail: "        variants: [{ name: a, stok: 1 }]\n"},
			11, `merchants[0].offers[0].variants[0]: unknown key "stok"`, "did you mean `stock`?"},
		{"duplicate key", fixture{tail: "        title: U\n"},
			11, `merchants[0].offers[0]: key "title" appears twice (first at line 9)`, "remove one"},

		// Wrong types and bad values.
		{"stock that is not a number", fixture{tail: "        stock: lots\n"},
			11, `merchants[0].offers[0].stock: expected a whole number, got "lots"`, ""},
		{"list where a string goes", fixture{tail: "        title: [a, b]\n"},
			11, `key "title" appears twice`, ""},
		{"mapping where a list goes", fixture{tail: "        ship_to: { US: 1 }\n"},
			11, `merchants[0].offers[0].ship_to: expected a list, got a mapping`, "write a list"},
		{"section that is not a mapping", fixture{tail: "log: loud\n"},
			11, `log: expected a mapping, got a value "loud"`, ""},
		{"duration without unit", fixture{tail: "checkout: { hold: 15 }\n"},
			11, `checkout.hold: "15" is not a duration`, "15m"},
		{"size with unknown unit", fixture{tail: "server: { max_body: 1 MeB }\n"},
			11, `server.max_body: "1 MeB" has an unknown unit`, "1MiB"},
		{"trusted proxy that is a host name", fixture{tail: "server:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - proxy.local\n"},
			14, `server.trusted_proxies[1]: "proxy.local" is not an IP address or range`, "10.0.0.0/8"},
		{"time without zone", fixture{tail: "        starts_at: 2026-12-01T17:00:00\n"},
			11, `merchants[0].offers[0].starts_at: "2026-12-01T17:00:00" is not a time with a zone`, "2026-12-01T17:00:00Z"},

		// Required fields.
		{"merchant without id", fixture{tail: "  - x_user_id: \"2\"\n    currency: USD\n"},
			11, `merchants[1].id: is required`, ""},
		{"merchant without x_user_id", fixture{tail: "  - id: b\n    currency: USD\n"},
			11, `merchants[1].x_user_id: is required`, "numeric X user id"},
		{"x_user_id that is a screen name", fixture{tail: "  - id: b\n    x_user_id: \"@b\"\n    currency: USD\n"},
			12, `merchants[1].x_user_id: "@b" is not all digits`, "x_screen_name"},
		{"merchant without currency", fixture{tail: "  - id: b\n    x_user_id: \"2\"\n"},
			11, `merchants[1].currency: is required`, "ISO 4217"},
		{"offer without id", fixture{tail: "      - title: U\n        price: \"1\"\n"},
			11, `merchants[0].offers[1].id: is required`, ""},
		{"offer without title", fixture{tail: "      - id: o2\n        price: \"1\"\n"},
			11, `merchants[0].offers[1].title: is required`, ""},
		{"offer without price", fixture{tail: "      - id: o2\n        title: U\n"},
			11, `merchants[0].offers[1].price: is required`, `"0" for a giveaway`},
		{"merchant id with a space", fixture{tail: "  - id: a b\n    x_user_id: \"2\"\n    currency: USD\n"},
			11, `merchants[1].id: "a b" is not a valid id`, ""},

		// Duplicates.
		{"duplicate merchant id", fixture{tail: "  - id: acme\n    x_user_id: \"2\"\n    currency: USD\n"},
			11, `merchants[1].id: duplicate merchant id "acme" (first at line 4)`, ""},
		{"duplicate offer id", fixture{tail: "      - id: o1\n        title: U\n        price: \"2\"\n"},
			11, `merchants[0].offers[1].id: duplicate offer id "o1" (first at line 8)`, ""},
		{"duplicate x_user_id", fixture{tail: "  - id: b\n    x_user_id: \"1\"\n    currency: USD\n"},
			12, `merchants[1].x_user_id: duplicate x_user_id "1" (first at line 5)`, "one merchant"},
		{"post claimed by two merchants", fixture{tail: "        post_ids: [\"5\"]\n" +
			"  - id: b\n    x_user_id: \"2\"\n    currency: USD\n    offers:\n" +
			"      - id: o1\n        title: U\n        price: \"1\"\n        post_ids: [\"7\", \"5\"]\n"},
			19, `merchants[1].offers[0].post_ids[1]: post id 5 is already claimed by merchant "acme" at line 11`, "one merchant"},
		{"post id that is not a number", fixture{tail: "        post_ids: [\"https://x.com/acme/status/5\"]\n"},
			11, `post id "https://x.com/acme/status/5" is not all digits`, ""},

		// Prices and currencies.
		{"more decimals than USD has", fixture{price: `"25.001"`},
			10, `merchants[0].offers[0].price: "25.001" has more decimals than USD allows`, "USD has 2 decimal places"},
		{"decimals on a JPY price", fixture{currency: "JPY", price: `"100.5"`},
			10, `"100.5" has more decimals than JPY allows`, "JPY has 0 decimal places"},
		{"negative price", fixture{price: `"-1"`},
			10, `price: "-1" is negative`, "giveaway"},
		{"price with a symbol", fixture{price: `"$5"`},
			10, `price: "$5" is not a price`, "plain decimal"},
		{"unknown currency", fixture{currency: "XYZ"},
			6, `merchants[0].currency: "XYZ" is not an ISO 4217 currency`, "USD, EUR or JPY"},
		{"lower-case currency", fixture{currency: "usd"},
			6, `"usd" is not an ISO 4217 currency`, "upper case: USD"},

		// Offer window, stock and limits.
		{"ends_at before starts_at", fixture{tail: "        starts_at: 2026-12-02T00:00:00Z\n        ends_at: 2026-12-01T00:00:00Z\n"},
			12, `merchants[0].offers[0].ends_at: 2026-12-01T00:00:00Z is not after starts_at 2026-12-02T00:00:00Z`, ""},
		{"ends_at equal to starts_at", fixture{tail: "        starts_at: 2026-12-02T00:00:00Z\n        ends_at: 2026-12-02T00:00:00Z\n"},
			12, `is not after starts_at`, ""},
		{"negative stock", fixture{tail: "        stock: -1\n"},
			11, `merchants[0].offers[0].stock: is -1, must be 0 or more`, "unlimited"},
		{"negative per_customer_limit", fixture{tail: "        per_customer_limit: -2\n"},
			11, `merchants[0].offers[0].per_customer_limit: is -2, must be 0 or more`, ""},

		// Variants.
		{"negative variant stock", fixture{tail: "        variants:\n          - { name: a, stock: -3 }\n"},
			12, `merchants[0].offers[0].variants[0].stock: is -3, must be 0 or more`, ""},
		{"variant names differing only by case", fixture{tail: "        variants:\n          - name: Black\n          - name: black\n"},
			13, `merchants[0].offers[0].variants[1].name: duplicate variant name "black" (first at line 12)`, ""},
		{"variant without a name", fixture{tail: "        variants:\n          - stock: 1\n"},
			12, `merchants[0].offers[0].variants[0].name: is required`, ""},
		{"only some variants with stock", fixture{tail: "        variants:\n          - { name: a, stock: 1 }\n          - { name: b }\n"},
			11, `merchants[0].offers[0].variants: 1 of 2 variants have a stock`, "every variant"},
		{"variant stocks not adding up to stock", fixture{tail: "        stock: 100\n        variants: [{ name: a, stock: 60 }, { name: b, stock: 30 }]\n"},
			12, `merchants[0].offers[0].variants: variant stocks add up to 90 but stock is 100`, ""},

		// Tags and destinations.
		{"hashtag without #", fixture{tail: "        hashtags: [BuyNow]\n"},
			11, `merchants[0].offers[0].hashtags[0]: "BuyNow" does not start with #`, `write "#BuyNow", quoted`},
		{"hashtag with a space", fixture{tail: "        hashtags: [\"#Buy Now\"]\n"},
			11, `hashtags[0]: "#Buy Now" contains a space`, ""},
		{"cart tag without #", fixture{tail: "        cart_tags: [\"#Cart\", Add]\n"},
			11, `merchants[0].offers[0].cart_tags[1]: "Add" does not start with #`, ""},
		{"tag in both lists", fixture{tail: "        hashtags: [\"#Go\"]\n        cart_tags: [\"#go\"]\n"},
			12, `merchants[0].offers[0].cart_tags[0]: #go is in both hashtags and cart_tags`, ""},
		{"default tags clash with a buy tag", fixture{tail: "        hashtags: [\"#Cart\"]\n"},
			8, `merchants[0].offers[0].cart_tags[1]: #Cart is in both hashtags and cart_tags`, ""},
		{"no tags at all", fixture{tail: "        hashtags: []\n        cart_tags: []\n"},
			8, `merchants[0].offers[0]: has no hashtags and no cart_tags`, ""},
		{"ship_to UK", fixture{tail: "        ship_to: [US, UK]\n"},
			11, `merchants[0].offers[0].ship_to[1]: "UK" is not an ISO 3166-1 alpha-2 country code`, "GB"},
		{"ship_to lower case", fixture{tail: "        ship_to:\n          - us\n"},
			12, `ship_to[0]: "us" is not an ISO 3166-1 alpha-2`, "upper case: US"},

		// Service settings.
		{"relative public_url", fixture{tail: "server: { public_url: \"localhost:8080\" }\n"},
			11, `server.public_url: "localhost:8080" is not an absolute http(s) URL`, ""},
		{"unknown key next to a section name", fixture{tail: "x2: 1\n"},
			11, `top level: unknown key "x2"`, "did you mean `x`?"},
		{"bad listen address", fixture{tail: "server:\n  listen: \"8080\"\n"},
			12, `server.listen: "8080" is not a listen address`, ":8080"},
		{"zero max_body", fixture{tail: "server:\n  max_body: 0\n"},
			12, `server.max_body: must be more than 0, got 0B`, ""},
		{"unknown storage driver", fixture{tail: "storage: { driver: mysql }\n"},
			11, `storage.driver: "mysql" is not supported`, "use sqlite or postgres"},
		{"empty dsn", fixture{tail: "storage: { dsn: \"\" }\n"},
			11, `storage.dsn: is required`, ""},
		{"unknown payment provider", fixture{tail: "payments: { provider: paypal }\n"},
			11, `payments.provider: "paypal" is not supported`, "sandbox or stripe"},
		{"zero hold", fixture{tail: "checkout: { hold: 0s }\n"},
			11, `checkout.hold: must be more than 0, got 0s`, ""},
		{"zero workers", fixture{tail: "intake:\n  workers: 0\n"},
			12, `intake.workers: must be more than 0, got 0`, ""},
		{"negative batch", fixture{tail: "intake:\n  batch: -5\n"},
			12, `intake.batch: must be more than 0, got -5`, ""},
		{"zero poll_interval", fixture{tail: "intake:\n  poll_interval: 0ms\n"},
			12, `intake.poll_interval: must be more than 0`, ""},
		{"zero max_attempts", fixture{tail: "intake: { max_attempts: 0 }\n"},
			11, `intake.max_attempts: must be more than 0`, ""},
		{"unknown log format", fixture{tail: "log: { format: xml }\n"},
			11, `log.format: "xml" is not supported`, "text or json"},
		{"unknown log level", fixture{tail: "log: { level: verbose }\n"},
			11, `log.level: "verbose" is not supported`, "debug, info, warn or error"},
		{"order webhook without secret", fixture{tail: "    order_webhook: { url: \"https://a.example/o\" }\n"},
			11, `merchants[0].order_webhook.secret: is required`, "signs"},
		{"order webhook with relative url", fixture{tail: "    order_webhook: { url: \"/orders\", secret: s }\n"},
			11, `merchants[0].order_webhook.url: "/orders" is not an absolute http(s) URL`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, tt.f.String(), noEnv)
			for _, p := range ps {
				if p.Line == tt.line && strings.Contains(p.Message, tt.msg) && strings.Contains(p.Hint, tt.hint) {
					return
				}
			}
			t.Errorf("want a problem at line %d containing %q with hint containing %q; got:\n%s",
				tt.line, tt.msg, tt.hint, (&Problems{File: "f.yaml", List: ps}).Error())
		})
	}
}

func TestXSettingProblems(t *testing.T) {
	tests := []struct {
		name string
		x    string // the x section, starting at line 1
		line int
		msg  string
		hint string
	}{
		{"missing consumer_secret", "x:\n  consumer_key: k\n", 1, "x.consumer_secret: is required", "signs X webhooks"},
		{"no x section at all", "log: { level: info }\n", 1, "x.consumer_secret: is required", ""},
		{"unsupported api_version", "x:\n  consumer_secret: s\n  api_version: \"3\"\n", 3, `x.api_version: "3" is not supported`, "use 2 or 1.1"},
		{"api_base_url not http", "x:\n  consumer_secret: s\n  api_base_url: ftp://api.x.com\n", 3, `x.api_base_url: "ftp://api.x.com" is not an absolute http(s) URL`, ""},
		{"webhook_path without slash", "x:\n  consumer_secret: s\n  webhook_path: webhooks/x\n", 3, `x.webhook_path: "webhooks/x" does not start with /`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, tt.x, noEnv)
			for _, p := range ps {
				if p.Line == tt.line && strings.Contains(p.Message, tt.msg) && strings.Contains(p.Hint, tt.hint) {
					return
				}
			}
			t.Errorf("want a problem at line %d containing %q (hint %q); got %+v", tt.line, tt.msg, tt.hint, ps)
		})
	}
}

func TestEveryProblemInAFileIsReported(t *testing.T) {
	text := `server:
  listen: ":8080"
  publc_url: http://localhost
storage: { driver: mysql }
x:
  api_version: "3"
merchants:
  - id: acme
    x_user_id: abc
    currency: usd
    offers:
      - id: vinyl
        price: "25.001"
        stock: lots
        ship_to: [UK]
      - id: vinyl
        title: Again
        price: "1"
        hashtags: [BuyNow]
`
	ps := problemsOf(t, text, noEnv)
	want := []struct {
		line int
		msg  string
	}{
		{3, `unknown key "publc_url"`},
		{4, `storage.driver: "mysql" is not supported`},
		{5, `x.consumer_secret: is required`},
		{6, `x.api_version: "3" is not supported`},
		{9, `x_user_id: "abc" is not all digits`},
		{10, `currency: "usd" is not an ISO 4217 currency`},
		{12, `offers[0].title: is required`},
		{14, `stock: expected a whole number, got "lots"`},
		{15, `"UK" is not an ISO 3166-1 alpha-2 country code`},
		{16, `duplicate offer id "vinyl" (first at line 12)`},
		{19, `"BuyNow" does not start with #`},
	}
	for _, w := range want {
		found := false
		for _, p := range ps {
			if p.Line == w.line && strings.Contains(p.Message, w.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing problem at line %d: %q", w.line, w.msg)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(ps), len(want), (&Problems{File: "f.yaml", List: ps}).Error())
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Line < ps[i-1].Line {
			t.Errorf("problems not ordered by line: %d after %d", ps[i].Line, ps[i-1].Line)
		}
	}
}

func TestProblemsErrorPutsEachProblemOnItsOwnLine(t *testing.T) {
	ps := &Problems{File: "config.yaml", List: []Problem{
		{Line: 3, Message: `server: unknown key "publc_url"`, Hint: "did you mean `public_url`?"},
		{Line: 7, Message: "x.consumer_secret: is required"},
	}}
	want := "config.yaml:3: server: unknown key \"publc_url\" (did you mean `public_url`?)\n" +
		"config.yaml:7: x.consumer_secret: is required"
	if got := ps.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestYAMLSyntaxErrorNamesFileAndLine(t *testing.T) {
	tests := []struct {
		name, text string
		want       string // Error() starts with this
		hint       string
	}{
		{"unclosed flow mapping", "x:\n  consumer_secret: s\nserver: { listen: \":8080\"\nlog: {}\n",
			"f.yaml:3: did not find expected ',' or '}' in the block or { } [ ] that starts here", "quoting"},
		{"item where a key goes", "x:\n  consumer_secret: s\nlog:\n  level: info\n  - debug\n",
			"f.yaml:4: did not find expected key in the block", ""},
		{"value after a value", "x:\n  consumer_secret: s\nlog: level: info\n",
			"f.yaml:3: mapping values are not allowed in this context", ""},
		{"unknown anchor", "x:\n  consumer_secret: s\nlog: *nope\n",
			"f.yaml:3: unknown anchor 'nope' referenced", "&nope"},
		{"tab indentation", "x:\n\tconsumer_secret: s\n",
			"f.yaml:2: found character that cannot start any token", "tabs"},
		{"unquoted ${} inside a flow mapping", "log: {}\nx: { consumer_secret: ${S} }\n",
			"f.yaml:2: ", `quote ${...} values`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.text), noEnv)
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v, want *Problems", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), tt.want)
			}
			if !strings.Contains(ps.List[0].Hint, tt.hint) {
				t.Errorf("hint = %q, want it to mention %q", ps.List[0].Hint, tt.hint)
			}
		})
	}
}
