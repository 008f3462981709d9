package bot

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Post
	}{
		// The reply the issue gives as its example.
		{"typical reply", "@acme #BuyNow red x2",
			Post{Tags: []string{"buynow"}, Mentions: []string{"acme"}, Quantity: 2, Words: []string{"red"}}},
		{"empty", "", Post{}},
		{"only spaces", " \t\n\u3000 ", Post{}},

		// Tags: case, width, boundaries.
		{"tag is case insensitive", "#BUYNOW #BuyNow #buynow",
			Post{Tags: []string{"buynow"}, Command: ""}},
		{"full-width hash and letters", "＃ＢｕｙＮｏｗ",
			Post{Tags: []string{"buynow"}}},
		{"small hash", "﹟BuyNow", Post{Tags: []string{"buynow"}}},
		{"longer tag is another tag", "#BuyNowPlease",
			Post{Tags: []string{"buynowplease"}}},
		{"tag ends at punctuation", "#BuyNow! yes",
			Post{Tags: []string{"buynow"}, Words: []string{"yes"}}},
		{"tag ends at dash", "#Buy-Now",
			Post{Tags: []string{"buy"}, Words: []string{"now"}}},
		{"underscore and digits stay in tag", "#BuyNow_2 #sale2024",
			Post{Tags: []string{"buynow_2", "sale2024"}}},
		{"hash after letter is no tag", "abc#tag",
			Post{Words: []string{"abc#tag"}, Command: "abc#tag"}},
		{"hash after digit is no tag", "1#tag",
			Post{Words: []string{"1#tag"}, Command: "1#tag"}},
		{"second hash glued to a tag is no tag", "#a#b",
			Post{Tags: []string{"a"}, Words: []string{"b"}}},
		{"tag after punctuation in the same field", "yes,#BuyNow",
			Post{Tags: []string{"buynow"}, Words: []string{"yes"}, Command: "yes"}},
		{"tag in parentheses", "(#BuyNow)", Post{Tags: []string{"buynow"}}},
		{"double hash", "##BuyNow", Post{Tags: []string{"buynow"}}},
		{"lone hash", "# BuyNow", Post{Words: []string{"buynow"}, Command: ""}},
		{"tags deduplicated in order", "#Red #BuyNow #red #BUYNOW",
			Post{Tags: []string{"red", "buynow"}}},
		{"unicode tag", "#Кupить #Größe",
			Post{Tags: []string{"кupить", "grösse"}}},
		{"tag keeps combining marks", "#नमस्ते", Post{Tags: []string{"नमस्ते"}}},
		{"decomposed accent composes", "#cafe\u0301", Post{Tags: []string{"café"}}},
		{"keycap emoji is no tag", "#\ufe0f\u20e3 red", Post{Words: []string{"red"}}},
		{"zero-width space does not split a tag", "#Buy\u200bNow",
			Post{Tags: []string{"buynow"}}},
		{"emoji ends a tag", "#BuyNow🔥", Post{Tags: []string{"buynow"}}},
		{"tag with quantity glued", "#BuyNow×2",
			Post{Tags: []string{"buynow"}, Quantity: 2}},

		// Quantities.
		{"x2", "#BuyNow x2", Post{Tags: []string{"buynow"}, Quantity: 2}},
		{"X2", "#BuyNow X2", Post{Tags: []string{"buynow"}, Quantity: 2}},
		{"times sign before", "#BuyNow ×3", Post{Tags: []string{"buynow"}, Quantity: 3}},
		{"2x", "#BuyNow 2x", Post{Tags: []string{"buynow"}, Quantity: 2}},
		{"2X", "#BuyNow 2X", Post{Tags: []string{"buynow"}, Quantity: 2}},
		{"times sign after", "#BuyNow 4×", Post{Tags: []string{"buynow"}, Quantity: 4}},
		{"qty space", "#BuyNow qty 2", Post{Tags: []string{"buynow"}, Quantity: 2}},
		{"qty colon", "#BuyNow qty:2", Post{Tags: []string{"buynow"}, Quantity: 2}},
		{"qty colon space", "#BuyNow Qty: 5", Post{Tags: []string{"buynow"}, Quantity: 5}},
		{"qty equals", "#BuyNow qty=7", Post{Tags: []string{"buynow"}, Quantity: 7}},
		{"quantity word", "#BuyNow quantity 3", Post{Tags: []string{"buynow"}, Quantity: 3}},
		{"quantity colon", "#BuyNow quantity:3", Post{Tags: []string{"buynow"}, Quantity: 3}},
		{"full-width digits", "#BuyNow ｘ２", Post{Tags: []string{"buynow"}, Quantity: 2}},
		{"full-width qty", "#BuyNow ｑｔｙ　１２", Post{Tags: []string{"buynow"}, Quantity: 12}},
		{"quantity in parentheses", "#BuyNow (x2)", Post{Tags: []string{"buynow"}, Quantity: 2}},
		{"quantity with trailing comma", "x2, red",
			Post{Quantity: 2, Words: []string{"red"}, Command: "x2"}},
		{"max quantity", "x99", Post{Quantity: 99, Command: "x99"}},
		{"leading zero", "x02", Post{Quantity: 2, Command: "x02"}},
		{"first quantity wins, later dropped", "#BuyNow x2 red 3x",
			Post{Tags: []string{"buynow"}, Quantity: 2, Words: []string{"red"}}},
		{"quantity over max is a word", "#BuyNow x100",
			Post{Tags: []string{"buynow"}, Words: []string{"x100"}}},
		{"zero is no quantity", "#BuyNow x0 0x",
			Post{Tags: []string{"buynow"}, Words: []string{"x0", "0x"}}},
		{"qty 0 is no quantity", "#BuyNow qty 0",
			Post{Tags: []string{"buynow"}, Words: []string{"qty", "0"}}},
		{"qty over max is no quantity", "#BuyNow qty:100",
			Post{Tags: []string{"buynow"}, Words: []string{"qty:100"}}},
		{"huge number does not overflow", "x99999999999999999999999999",
			Post{Words: []string{"x99999999999999999999999999"}, Command: "x99999999999999999999999999"}},
		{"bare number is a word", "#BuyNow 2",
			Post{Tags: []string{"buynow"}, Words: []string{"2"}}},
		{"keyword with digits is a word", "VINYL1 2024",
			Post{Words: []string{"vinyl1", "2024"}, Command: "vinyl1"}},
		{"qty without number is a word", "#BuyNow qty red",
			Post{Tags: []string{"buynow"}, Words: []string{"qty", "red"}}},
		{"qty at the end is a word", "#BuyNow qty",
			Post{Tags: []string{"buynow"}, Words: []string{"qty"}}},
		{"x inside a word is no quantity", "#BuyNow box2 2xl",
			Post{Tags: []string{"buynow"}, Words: []string{"box2", "2xl"}}},
		{"lone x is a word", "x", Post{Words: []string{"x"}, Command: "x"}},

		// Mentions.
		{"mentions ignored and lowercased", "@Acme @shop_2 hi",
			Post{Mentions: []string{"acme", "shop_2"}, Words: []string{"hi"}}},
		{"mention deduplicated", "@acme @ACME", Post{Mentions: []string{"acme"}}},
		{"mention with punctuation", "(@acme), yes",
			Post{Mentions: []string{"acme"}, Words: []string{"yes"}}},
		{"full-width at", "＠ａｃｍｅ", Post{Mentions: []string{"acme"}}},
		{"email is no mention", "bob@example.com",
			Post{Words: []string{"bob@example.com"}, Command: "bob@example.com"}},
		{"handle over 15 is no mention", "@abcdefghijklmnop",
			Post{Words: []string{"abcdefghijklmnop"}}},
		{"handle of 15 is a mention", "@abcdefghijklmno",
			Post{Mentions: []string{"abcdefghijklmno"}}},
		{"lone at", "@ red", Post{Words: []string{"red"}}},

		// URLs.
		{"t.co link ignored", "#BuyNow red https://t.co/abc",
			Post{Tags: []string{"buynow"}, Words: []string{"red"}}},
		{"http link ignored", "http://example.com/x?y=1 red",
			Post{Words: []string{"red"}}},
		{"www link ignored", "www.example.com red", Post{Words: []string{"red"}}},
		{"bare t.co ignored", "t.co/abc red", Post{Words: []string{"red"}}},
		{"fragment in a URL is no tag", "https://example.com/#BuyNow",
			Post{}},
		{"mention in a URL is no mention", "https://x.com/@acme", Post{}},
		{"link in parentheses", "red (https://t.co/abc)",
			Post{Words: []string{"red"}, Command: "red"}},
		{"link glued after a tag", "#BuyNow/https://t.co/abc",
			Post{Tags: []string{"buynow"}}},
		{"word ending in t is no URL start", "at.co/x",
			Post{Words: []string{"at.co/x"}, Command: "at.co/x"}},

		// Words.
		{"punctuation trimmed", "red, (blue) 'green'! ¿sí?",
			Post{Words: []string{"red", "blue", "green", "sí"}, Command: "red"}},
		{"inner punctuation kept", "t-shirt red/blue",
			Post{Words: []string{"t-shirt", "red/blue"}, Command: "t-shirt"}},
		{"symbols trimmed", "$25 red❤️ 🔥",
			Post{Words: []string{"25", "red"}, Command: "25"}},
		{"words lowercased and full-width normalized", "ＲＥＤ Large",
			Post{Words: []string{"red", "large"}, Command: "red"}},
		{"words keep duplicates", "red red",
			Post{Words: []string{"red", "red"}, Command: "red"}},
		{"devanagari word keeps its vowel sign", "नमस्ते!",
			Post{Words: []string{"नमस्ते"}, Command: "नमस्ते"}},
		{"html entities decoded", "R&amp;D &lt;3 #BuyNow&amp;red",
			Post{Tags: []string{"buynow"}, Words: []string{"r&d", "3", "red"}, Command: "r&d"}},
		{"escaped entity stays literal", "&amp;lt;",
			Post{Words: []string{"lt"}, Command: "lt"}},
		{"invalid UTF-8 splits words", "red\xffblue #Buy\xffNow",
			Post{Tags: []string{"buy"}, Words: []string{"red\ufffdblue", "now"}, Command: "red\ufffdblue"}},

		// Commands.
		{"slash command", "/Forget", Post{Words: []string{"forget"}, Command: "forget"}},
		{"command with punctuation", "YES!", Post{Words: []string{"yes"}, Command: "yes"}},
		{"command is first word", "Help me",
			Post{Words: []string{"help", "me"}, Command: "help"}},
		{"command after leading space", "  buy #BuyNow",
			Post{Tags: []string{"buynow"}, Words: []string{"buy"}, Command: "buy"}},
		{"full-width command", "ＹＥＳ", Post{Words: []string{"yes"}, Command: "yes"}},
		{"tag first is no command", "#BuyNow yes",
			Post{Tags: []string{"buynow"}, Words: []string{"yes"}}},
		{"mention first is no command", "@acme help",
			Post{Mentions: []string{"acme"}, Words: []string{"help"}}},
		{"URL first is no command", "https://t.co/x help",
			Post{Words: []string{"help"}}},
		{"punctuation only is no command", "!!! yes", Post{Words: []string{"yes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestHashtagOnWordBoundary(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"#BuyNow", true},
		{"#buynow!", true},
		{"＃ＢＵＹＮＯＷ", true},
		{"I want it #BuyNow.", true},
		{"#BuyNowPlease", false},
		{"#BuyNow_", false},
		{"#BuyNow2", false},
		{"#BuyNo", false},
		{"BuyNow", false},
		{"abc#BuyNow", false},
		{"https://example.com/#BuyNow", false},
	}
	for _, tt := range tests {
		if got := Parse(tt.in).HasTag("#BuyNow"); got != tt.want {
			t.Errorf("Parse(%q).HasTag(#BuyNow) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeTag(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"#BuyNow", "buynow"},
		{"BuyNow", "buynow"},
		{" #BuyNow ", "buynow"},
		{"＃ＢｕｙＮｏｗ", "buynow"},
		{"﹟AddToCart", "addtocart"},
		{"#Größe", "grösse"},
		{"#buy_now_2", "buy_now_2"},
		{"", ""},
		{"#", ""},
		{"##BuyNow", ""},
		{"#Buy Now", ""},
		{"#Buy-Now", ""},
		{"#\u0301a", ""},
	}
	for _, tt := range tests {
		if got := NormalizeTag(tt.in); got != tt.want {
			t.Errorf("NormalizeTag(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHasTagAcceptsAnySpelling(t *testing.T) {
	p := Parse("@acme ＃ｂｕｙｎｏｗ red")
	for _, tag := range []string{"#BuyNow", "buynow", "BUYNOW", "＃BuyNow"} {
		if !p.HasTag(tag) {
			t.Errorf("HasTag(%q) = false, want true", tag)
		}
	}
	for _, tag := range []string{"#AddToCart", "", "#", "#buy now", "red"} {
		if p.HasTag(tag) {
			t.Errorf("HasTag(%q) = true, want false", tag)
		}
	}
}

func TestHasWordNormalizesTheWord(t *testing.T) {
	p := Parse("#BuyNow Red, XL x2 https://t.co/abc")
	for _, w := range []string{"red", "RED", "Red,", "ＲＥＤ", "(xl)"} {
		if !p.HasWord(w) {
			t.Errorf("HasWord(%q) = false, want true", w)
		}
	}
	for _, w := range []string{"blue", "", "!!", "red xl", "x2", "buynow", "https"} {
		if p.HasWord(w) {
			t.Errorf("HasWord(%q) = true, want false", w)
		}
	}
}

func TestParseReadsOnlyTheStartOfLongText(t *testing.T) {
	long := "#Early " + strings.Repeat("a ", 3000) + "#Late"
	p := Parse(long)
	if !p.HasTag("early") {
		t.Errorf("tag at the start not read")
	}
	if p.HasTag("late") {
		t.Errorf("tag after the first %d bytes read", maxParseBytes)
	}
}

func TestTruncateKeepsTextValid(t *testing.T) {
	// 'é' is two bytes; cutting "x"+"éé..." at an even length lands inside one.
	text := "x" + strings.Repeat("é", maxParseBytes)
	got := truncateUTF8(text, maxParseBytes)
	if !utf8.ValidString(got) || len(got) != maxParseBytes-1 {
		t.Errorf("truncateUTF8 kept %d bytes, valid=%v; want %d valid bytes",
			len(got), utf8.ValidString(got), maxParseBytes-1)
	}
	// Invalid input: back off at most a rune's length, never to nothing.
	if got := truncateUTF8(strings.Repeat("\x80", 2*maxParseBytes), maxParseBytes); len(got) < maxParseBytes-3 {
		t.Errorf("truncateUTF8 of continuation bytes kept %d bytes", len(got))
	}
}

func TestParseResultsDoNotShareAppendSpace(t *testing.T) {
	p := Parse("#a @b c")
	tags := append(p.Tags, "x")
	_ = append(p.Mentions, "y")
	if p.Mentions[0] != "b" || p.Words[0] != "c" || tags[0] != "a" {
		t.Errorf("append to one result slice overwrote another: %#v", p)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bm := range []struct{ name, in string }{
		{"ascii", "@acme #BuyNow red x2 https://t.co/abc"},
		{"unicode", "@acme ＃ＢｕｙＮｏｗ Größe x2 https://t.co/abc"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Parse(bm.in)
			}
		})
	}
}
