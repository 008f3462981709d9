package bot

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks what must hold for any text: Parse does not panic, is
// deterministic, returns normalized pieces that its own helpers recognize,
// and never loses a tag when more text follows.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"@acme #BuyNow red x2 https://t.co/abc",
		"＃ＢｕｙＮｏｗ ｑｔｙ　２",
		"#BuyNowPlease abc#tag ##x",
		"/Forget",
		"qty: 3 (blue) #AddToCart",
		"R&amp;D &lt;3 #Größe ×2",
		"red\xffblue #Buy\xffNow",
		"#\ufe0f\u20e3 #नमस्ते 🔥",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p := Parse(text)
		if again := Parse(text); !reflect.DeepEqual(p, again) {
			t.Fatalf("Parse(%q) not deterministic:\n%#v\n%#v", text, p, again)
		}
		if p.Quantity < 0 || p.Quantity > MaxQuantity {
			t.Errorf("Quantity = %d, want 0..%d", p.Quantity, MaxQuantity)
		}
		seen := map[string]bool{}
		for _, tag := range p.Tags {
			if tag == "" || strings.ContainsAny(tag, "#ABCDEFGHIJKLMNOPQRSTUVWXYZ \t\n") {
				t.Errorf("tag %q: want non-empty, lowercase, no '#' or space", tag)
			}
			if seen[tag] {
				t.Errorf("tag %q listed twice in %q", tag, p.Tags)
			}
			seen[tag] = true
			if got := NormalizeTag("#" + tag); got != tag {
				t.Errorf("NormalizeTag(#%s) = %q: a parsed tag is not in normal form", tag, got)
			}
			if !p.HasTag(tag) || !p.HasTag("#"+tag) {
				t.Errorf("HasTag(%q) = false for a parsed tag", tag)
			}
		}
		for _, m := range p.Mentions {
			if len(m) < 1 || len(m) > 15 || strings.Trim(m, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
				t.Errorf("mention %q: want 1..15 of [a-z0-9_]", m)
			}
		}
		for _, w := range p.Words {
			if w == "" || strings.ContainsAny(w, " \t\n") {
				t.Errorf("word %q: want non-empty without spaces", w)
			}
			if !p.HasWord(w) {
				t.Errorf("HasWord(%q) = false for a parsed word", w)
			}
		}
		if p.Command != "" && trimWord(normalize(p.Command)) != p.Command {
			t.Errorf("Command %q is not in normal form", p.Command)
		}
		more := Parse(text + " more")
		for _, tag := range p.Tags {
			if !more.HasTag(tag) {
				t.Errorf("tag %q of %q lost when text follows: %q", tag, text, more.Tags)
			}
		}
	})
}
