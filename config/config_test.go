package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultsFillWhatTheFileLeavesOut(t *testing.T) {
	c, err := Parse("f.yaml", []byte(fixture{}.String()), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"server.listen", c.Server.Listen, ":8080"},
		{"server.public_url", c.Server.PublicURL, "http://localhost:8080"},
		{"server.max_body", c.Server.MaxBody, ByteSize(1 << 20)},
		{"server.shutdown_timeout", c.Server.ShutdownTimeout.Duration, 15 * time.Second},
		{"storage.driver", c.Storage.Driver, "sqlite"},
		{"storage.dsn", c.Storage.DSN, "hashcart.db"},
		{"storage.max_open_conns", c.Storage.MaxOpenConns, 10},
		{"x.api_version", c.X.APIVersion, "2"},
		{"x.api_base_url", c.X.APIBaseURL, "https://api.x.com"},
		{"x.webhook_path", c.X.WebhookPath, "/webhooks/x"},
		{"payments.provider", c.Payments.Provider, "sandbox"},
		{"checkout.hold", c.Checkout.Hold.Duration, 15 * time.Minute},
		{"intake.workers", c.Intake.Workers, 4},
		{"intake.batch", c.Intake.Batch, 100},
		{"intake.poll_interval", c.Intake.PollInterval.Duration, 250 * time.Millisecond},
		{"intake.max_attempts", c.Intake.MaxAttempts, 10},
		{"log.format", c.Log.Format, "text"},
		{"log.level", c.Log.Level, "info"},
		{"offer hashtags", strings.Join(c.Merchants[0].Offers[0].Hashtags, ","), "#BuyNow"},
		{"offer cart_tags", strings.Join(c.Merchants[0].Offers[0].CartTags, ","), "#AddToCart,#Cart"},
		{"offer stock", c.Merchants[0].Offers[0].Stock == nil, true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestFileOverridesDefaults(t *testing.T) {
	c, err := Parse("f.yaml", []byte(fixture{tail: `        hashtags: ["#Mine"]
server: { listen: "127.0.0.1:9000", max_body: 512KiB, shutdown_timeout: 1m }
storage: { driver: postgres, dsn: "postgres://localhost/hashcart" }
x: { api_version: 1.1 }
intake: { workers: 8 }
log: { format: json, level: debug }
`}.String()), noEnv)
	if err == nil {
		t.Fatal("the second x section should be a duplicate key")
	}
	c, err = Parse("f.yaml", []byte(fixture{tail: `        hashtags: ["#Mine"]
server: { listen: "127.0.0.1:9000", max_body: 512KiB, shutdown_timeout: 1m }
storage: { driver: postgres, dsn: "postgres://localhost/hashcart" }
intake: { workers: 8 }
log: { format: json, level: debug }
`}.String()), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	o := c.Merchants[0].Offers[0]
	if c.Server.Listen != "127.0.0.1:9000" || c.Server.MaxBody != 512<<10 || c.Server.ShutdownTimeout.Duration != time.Minute ||
		c.Storage.Driver != "postgres" || c.Intake.Workers != 8 || c.Intake.Batch != 100 || c.Log.Format != "json" ||
		len(o.Hashtags) != 1 || o.Hashtags[0] != "#Mine" || len(o.CartTags) != 2 {
		t.Errorf("overrides not applied: %+v %+v", c, o)
	}
}

func TestOfferDetailsAreDecoded(t *testing.T) {
	c, err := Parse("f.yaml", []byte(fixture{currency: "JPY", price: "1500", tail: `        per_customer_limit: 3
        starts_at: 2026-12-01T17:00:00Z
        ends_at: 2026-12-02T17:00:00+01:00
        post_ids: [1860000000000000001]
        keywords: [VINYL1]
        ship_to: [US, "NO"]
        variants:
          - { name: black, stock: 6 }
          - { name: red, stock: 4 }
`}.String()), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Merchants[0]
	o := m.Offers[0]
	if m.Line != 4 || o.Line != 8 {
		t.Errorf("lines: merchant %d offer %d, want 4 and 8", m.Line, o.Line)
	}
	if o.Amount.String() != "¥1500" {
		t.Errorf("amount = %v, want ¥1500", o.Amount)
	}
	if o.Stock == nil || *o.Stock != 10 {
		t.Errorf("stock = %v, want the variant sum 10", o.Stock)
	}
	if o.PerCustomerLimit != 3 || !o.StartsAt.Equal(time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)) ||
		!o.EndsAt.Equal(time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("limit %d, window %v - %v", o.PerCustomerLimit, o.StartsAt, o.EndsAt)
	}
	// An unquoted post id keeps every digit (no float rounding) and "NO"
	// (Norway) stays a string.
	if o.PostIDs[0] != "1860000000000000001" || o.ShipTo[1] != "NO" || o.Keywords[0] != "VINYL1" {
		t.Errorf("post_ids %v ship_to %v keywords %v", o.PostIDs, o.ShipTo, o.Keywords)
	}
	if o.Variants[1].Name != "red" || *o.Variants[1].Stock != 4 {
		t.Errorf("variants %+v", o.Variants)
	}
}

func TestOffersOfOneMerchantMayShareAPost(t *testing.T) {
	_, err := Parse("f.yaml", []byte(fixture{tail: `        post_ids: ["5"]
        keywords: [A]
      - id: o2
        title: U
        price: "2"
        post_ids: ["5"]
        keywords: [B]
`}.String()), noEnv)
	if err != nil {
		t.Errorf("two offers of one merchant sharing a post: %v", err)
	}
}

func TestVariantsWithoutStockLeaveStockUnlimited(t *testing.T) {
	c, err := Parse("f.yaml", []byte(fixture{tail: "        variants: [{ name: S }, { name: M }]\n"}.String()), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Merchants[0].Offers[0].Stock != nil {
		t.Errorf("stock = %d, want unlimited", *c.Merchants[0].Offers[0].Stock)
	}
}

func TestMerchantByXUserID(t *testing.T) {
	c, err := Parse("f.yaml", []byte(fixture{tail: "  - id: b\n    x_user_id: \"22\"\n    currency: EUR\n"}.String()), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := c.MerchantByXUserID("22")
	if !ok || m.ID != "b" || m != &c.Merchants[1] {
		t.Errorf("MerchantByXUserID(22) = %+v, %v; want merchant b in place", m, ok)
	}
	if m, ok := c.MerchantByXUserID("2"); ok {
		t.Errorf("MerchantByXUserID(2) = %+v, want none (ids match whole)", m)
	}
}

func TestSummaryCountsMerchantsOffersVariants(t *testing.T) {
	c := &Config{File: "config.yaml", Merchants: []Merchant{
		{Offers: []Offer{{Variants: make([]Variant, 2)}, {}}},
		{Offers: []Offer{{Variants: make([]Variant, 1)}}},
	}}
	if got, want := c.Summary(), "config.yaml: ok, 2 merchants, 3 offers, 3 variants"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
}

func TestAnchorsAndMergeKeysAreFollowed(t *testing.T) {
	text := fixture{tail: `        ship_to: &everywhere [US, CA]
        variants: &sizes
          - { name: S, stock: 1 }
          - { name: M, stock: 2 }
      - &base
        id: o2
        title: Base
        price: "3"
        ship_to: *everywhere
        variants: *sizes
      - <<: *base
        id: o3
        title: Derived
`}.String()
	c, err := Parse("f.yaml", []byte(text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	o3 := c.Merchants[0].Offers[2]
	if o3.ID != "o3" || o3.Title != "Derived" || o3.Price != "3" || len(o3.ShipTo) != 2 || *o3.Stock != 3 {
		t.Errorf("merged offer = %+v", o3)
	}
}

func TestSelfReferringAliasIsAProblem(t *testing.T) {
	ps := problemsOf(t, fixture{tail: "        variants: &v [*v]\n      - &o { <<: *o, id: o2 }\n"}.String(), noEnv)
	joined := (&Problems{File: "f.yaml", List: ps}).Error()
	want := "f.yaml:11: merchants[0].offers[0].variants[0]: expected a mapping, got a list (write `key: value` pairs, one per line or as { key: value })\n" +
		"f.yaml:12: merchants[0].offers[1]: alias *o refers to itself (an alias cannot refer to a value that contains it)\n" +
		"f.yaml:12: merchants[0].offers[1].title: is required (what the shopper sees in the DM and on the checkout page)\n" +
		"f.yaml:12: merchants[0].offers[1].price: is required (a quoted decimal in the merchant's currency, e.g. \"25.00\"; \"0\" for a giveaway)"
	if joined != want {
		t.Errorf("got:\n%s\nwant:\n%s", joined, want)
	}
}

func TestEmptyFileNeedsOnlyTheConsumerSecret(t *testing.T) {
	ps := problemsOf(t, "", noEnv)
	if len(ps) != 1 || ps[0].Line != 1 || ps[0].Message != "x.consumer_secret: is required" {
		t.Errorf("got %+v", ps)
	}
	if _, err := Parse("f.yaml", []byte("# only a comment\nx: { consumer_secret: s }\n"), noEnv); err != nil {
		t.Error(err)
	}
}

func TestTopLevelListIsAProblem(t *testing.T) {
	ps := problemsOf(t, "- a\n- b\n", noEnv)
	if ps[0].Line != 1 || ps[0].Message != "top level: expected a mapping, got a list" {
		t.Errorf("got %+v", ps[0])
	}
}

func TestDurationAndByteSizeRoundTripThroughYAML(t *testing.T) {
	type both struct {
		D Duration `yaml:"d"`
		B ByteSize `yaml:"b"`
	}
	in := both{Duration{90 * time.Minute}, 512 << 10}
	out, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "d: 1h30m0s\nb: 512KiB\n" {
		t.Errorf("marshal = %q", out)
	}
	var back both
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back != in {
		t.Errorf("round trip = %+v, want %+v", back, in)
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"1MiB", 1 << 20, true},
		{"1mib", 1 << 20, true},
		{"512KiB", 512 << 10, true},
		{"512 KiB", 512 << 10, true},
		{"1MB", 1000000, true},
		{"2GB", 2000000000, true},
		{"1GiB", 1 << 30, true},
		{"3TiB", 3 << 40, true},
		{"10B", 10, true},
		{"0", 0, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1MiB", 0, false},
		{"1.5MiB", 0, false},
		{"1 PiB", 0, false},
		{"9223372036854775807", 1<<63 - 1, true},
		{"9223372036854775808", 0, false},
		{"8589934592GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	for _, b := range []ByteSize{0, 1, 1000, 1 << 10, 1536, 1 << 20, 5 << 30, 1 << 40} {
		if back, err := ParseByteSize(b.String()); err != nil || back != b {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", b.String(), back, err, b)
		}
	}
}

func TestUnknownKeysFollowStructTags(t *testing.T) {
	type later struct {
		Kept    string `yaml:"kept"`
		Default string
		Hidden  string `yaml:"-"`
		Inline  struct {
			Deep int `yaml:"deep"`
		} `yaml:",inline"`
	}
	fields, names := yamlFields(reflect.TypeFor[later]())
	if strings.Join(names, ",") != "kept,default,deep" {
		t.Errorf("keys = %v", names)
	}
	if _, ok := fields["hidden"]; ok {
		t.Error(`a yaml:"-" field is accepted as a key`)
	}
}

func TestAliasFanOutIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("x: { consumer_secret: s }\nmerchants:\n  - &m\n    id: a\n    x_user_id: \"1\"\n    currency: USD\n    offers:\n")
	b.WriteString("      - &o\n        id: o\n        title: T\n        price: \"1\"\n        variants: [&v { name: a }" + strings.Repeat(", *v", 100) + "]\n")
	b.WriteString(strings.Repeat("      - *o\n", 100))
	b.WriteString(strings.Repeat("  - *m\n", 100))
	start := time.Now()
	ps := problemsOf(t, b.String(), noEnv)
	if !strings.Contains(ps[0].Message, "file too complex") {
		t.Errorf("first problem = %+v, want the complexity limit", ps[0])
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestJobScheduleIsChecked(t *testing.T) {
	_, err := Parse("c.yaml", []byte("x: { consumer_secret: s }\njobs:\n  expire_holds: \"sometimes\"\n"), func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "c.yaml:3: jobs.expire_holds: not a schedule") {
		t.Fatalf("bad schedule: %v", err)
	}
	for _, spec := range []string{"@every 10s", "*/10 * * * * *", "0 * * * *"} {
		if _, err := Parse("c.yaml", []byte("x: { consumer_secret: s }\njobs: { expire_holds: \""+spec+"\" }\n"), func(string) (string, bool) { return "", false }); err != nil {
			t.Errorf("%q refused: %v", spec, err)
		}
	}
}

func TestTrustedProxiesAreRanges(t *testing.T) {
	s := Server{TrustedProxies: []string{"10.0.0.0/8", "192.0.2.1", " 2001:db8::/32 ", "::ffff:198.51.100.7", "10.1.2.3/8"}}
	var got []string
	for _, p := range s.Proxies() {
		got = append(got, p.String())
	}
	want := []string{"10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32", "198.51.100.7/32", "10.0.0.0/8"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Proxies() = %v, want %v", got, want)
	}
}
