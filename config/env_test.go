package config

import (
	"strings"
	"testing"
)

// envOf returns a getenv over m.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestEnvironmentExpansion(t *testing.T) {
	env := map[string]string{"SECRET": "s3cret", "EMPTY": "", "HOST": "shop.example", "N": "7"}
	tests := []struct {
		name, value, want string
	}{
		{"set variable", "${SECRET}", "s3cret"},
		{"default unused when set", "${SECRET:-demo}", "s3cret"},
		{"default when unset", "${MISSING:-demo}", "demo"},
		{"default when empty", "${EMPTY:-demo}", "demo"},
		{"empty default", "${MISSING:-}", ""},
		{"set but empty without default", "${EMPTY}", ""},
		{"default containing :// and -", "${MISSING:-https://api.x.com/a-b}", "https://api.x.com/a-b"},
		{"inside text", "https://${HOST}/orders", "https://shop.example/orders"},
		{"several references", "${HOST}:${N}", "shop.example:7"},
		{"escaped", "$${SECRET}", "${SECRET}"},
		{"lone dollar kept", "pa$$word $5", "pa$$word $5"},
		{"no reference", "plain", "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "x:\n  consumer_secret: s\n  consumer_key: \"" + tt.value + "\"\n"
			c, err := Parse("f.yaml", []byte(text), envOf(env))
			if err != nil {
				t.Fatal(err)
			}
			if c.X.ConsumerKey != tt.want {
				t.Errorf("consumer_key %s = %q, want %q", tt.value, c.X.ConsumerKey, tt.want)
			}
		})
	}
}

func TestEnvironmentExpansionProblems(t *testing.T) {
	tests := []struct {
		name, value string
		msg, hint   string
	}{
		{"unset without default", "${HASHCART_X_CONSUMER_KEY}",
			"environment variable HASHCART_X_CONSUMER_KEY is not set", "${HASHCART_X_CONSUMER_KEY:-value}"},
		{"unterminated", "${OOPS", `unterminated ${ in "${OOPS"`, "$${"},
		{"bad name", "${1ABC}", `bad environment variable name "1ABC"`, "letters, digits and _"},
		{"empty name", "${}", `bad environment variable name ""`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "x:\n  consumer_secret: s\n  consumer_key: \"" + tt.value + "\"\n"
			ps := problemsOf(t, text, noEnv)
			if len(ps) != 1 || ps[0].Line != 3 || !strings.Contains(ps[0].Message, tt.msg) || !strings.Contains(ps[0].Hint, tt.hint) {
				t.Errorf("want one problem at line 3 with %q (hint %q), got %+v", tt.msg, tt.hint, ps)
			}
		})
	}
}

func TestEnvironmentFeedsTypedValues(t *testing.T) {
	env := envOf(map[string]string{"STOCK": "12", "HOLD": "5m", "BODY": "2MiB", "PRICE": "9.99"})
	c, err := Parse("f.yaml", []byte(fixture{price: "${PRICE}", tail: "        stock: ${STOCK}\n" +
		"checkout: { hold: \"${HOLD}\" }\nserver: { max_body: \"${BODY}\" }\n"}.String()), env)
	if err != nil {
		t.Fatal(err)
	}
	o := c.Merchants[0].Offers[0]
	if *o.Stock != 12 || o.Amount.Amount != 999 || c.Checkout.Hold.Minutes() != 5 || c.Server.MaxBody != 2<<20 {
		t.Errorf("stock %d, amount %d, hold %v, max_body %d", *o.Stock, o.Amount.Amount, c.Checkout.Hold, c.Server.MaxBody)
	}
}

func TestEveryUnsetVariableIsReported(t *testing.T) {
	text := "x:\n  consumer_secret: ${A}\n  consumer_key: ${B}\n"
	ps := problemsOf(t, text, noEnv)
	if len(ps) != 2 || !strings.Contains(ps[0].Message, " A ") || ps[0].Line != 2 || !strings.Contains(ps[1].Message, " B ") || ps[1].Line != 3 {
		t.Errorf("want A at line 2 and B at line 3, got %+v", ps)
	}
}
