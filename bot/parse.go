package bot

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxQuantity is the largest quantity Parse reads from a post. A larger
// stated number (or 0) is not a quantity: it stays among Post.Words.
const MaxQuantity = 99

// maxParseBytes caps how much of a text Parse reads. Posts on X are short and
// the buying intent sits at the start; the cap keeps the work bounded for
// long posts and hostile input.
const maxParseBytes = 4 << 10

// Post is what a reply or DM says, normalized. Parse fills it; the commerce
// package matches its pieces against offers, variants and keywords.
//
// All strings are normalized the same way: NFKC, case folded, invisible
// formatting characters removed. Use NormalizeTag, HasTag and HasWord to
// compare configured values with it.
type Post struct {
	// Tags are the hashtags, without the leading '#', in order of first
	// appearance and without duplicates. "#BuyNow", "＃ＢｕｙＮｏｗ" and
	// "#buynow" all read as "buynow"; "#BuyNowPlease" reads as
	// "buynowplease", never as "buynow".
	Tags []string
	// Mentions are the @handles, lowercased, without '@', in order of first
	// appearance and without duplicates.
	Mentions []string
	// Quantity is the first stated quantity ("x2", "2x", "×2", "qty 2",
	// "qty:2", "quantity 3"), in 1..MaxQuantity, or 0 when none is stated.
	Quantity int
	// Words are the remaining words in order (duplicates kept): not tags,
	// mentions, URLs or quantity tokens, with surrounding punctuation and
	// symbols trimmed, never empty. A bare number such as "2" or "2024" is a
	// word, not a quantity.
	Words []string
	// Command is the first word of the text, normalized like Words and with
	// any leading '/' removed ("/Forget" -> "forget", "YES!" -> "yes", "Help
	// me" -> "help"). It is "" when the text is empty or starts with a
	// hashtag, a mention, a URL, or a word right after '#' or '@'. It is
	// meant for DMs; Words still holds the same word.
	Command string
}

// Parse reads a post or DM text. It does no I/O, never panics (invalid UTF-8
// included) and reads at most the first 4 KiB of text.
//
// Hashtags start with '#', '＃' or '﹟' at the start of a word (not after a
// letter, digit, mark or '_', so "abc#tag" is no tag) and run over letters,
// digits, marks and '_'. Mentions are '@' followed by 1 to 15 of [a-z0-9_].
// URLs (http://, https://, www., t.co/) are skipped up to the next space.
// X's HTML escapes &amp;, &lt; and &gt; are read as the characters.
func Parse(text string) Post {
	text = truncateUTF8(text, maxParseBytes)
	if strings.IndexByte(text, '&') >= 0 {
		text = unescapeEntities(text)
	}
	s := normalize(text)

	// One allocation backs the three result slices; each is capped at its
	// own region, so an append beyond it reallocates instead of overwriting
	// its neighbour.
	hashes := strings.Count(s, "#")
	ats := strings.Count(s, "@")
	fields := countFields(s)
	buf := make([]string, 0, hashes+ats+fields)
	r := reader{post: Post{
		Tags:     buf[0:0:hashes],
		Mentions: buf[hashes : hashes : hashes+ats],
		Words:    buf[hashes+ats : hashes+ats : hashes+ats+fields],
	}}

	for start := 0; start < len(s); {
		c, size := utf8.DecodeRuneInString(s[start:])
		if unicode.IsSpace(c) {
			start += size
			continue
		}
		end := start + size
		for end < len(s) {
			c, size := utf8.DecodeRuneInString(s[end:])
			if unicode.IsSpace(c) {
				break
			}
			end += size
		}
		r.field(s[start:end])
		r.commandRead = true
		start = end
	}
	r.flushPending()

	if len(r.post.Tags) == 0 {
		r.post.Tags = nil
	}
	if len(r.post.Mentions) == 0 {
		r.post.Mentions = nil
	}
	if len(r.post.Words) == 0 {
		r.post.Words = nil
	}
	return r.post
}

// NormalizeTag returns the form Parse puts in Post.Tags for a configured tag
// such as "#BuyNow" (with or without '#', any case or width): "buynow". It
// returns "" when tag is not a single valid hashtag (empty, "#Buy Now",
// "#Buy-Now"), so configuration can reject it.
func NormalizeTag(tag string) string {
	s := normalize(strings.TrimSpace(tag))
	s = strings.TrimPrefix(s, "#")
	if end := tagEnd(s, 0); end == 0 || end != len(s) {
		return ""
	}
	return s
}

// HasTag reports whether p carries tag, given with or without '#' in any case
// or width. An invalid tag (see NormalizeTag) is never carried.
func (p Post) HasTag(tag string) bool {
	t := NormalizeTag(tag)
	if t == "" {
		return false
	}
	for _, have := range p.Tags {
		if have == t {
			return true
		}
	}
	return false
}

// HasWord reports whether word, normalized like Post.Words ("Red," and "ＲＥＤ"
// both mean "red"), is among p.Words. A word with inner spaces, or nothing but
// punctuation, is never among them.
func (p Post) HasWord(word string) bool {
	w := trimWord(normalize(word))
	if w == "" {
		return false
	}
	for _, have := range p.Words {
		if have == w {
			return true
		}
	}
	return false
}

// reader holds the state of one Parse call.
type reader struct {
	post Post
	// pending is a "qty" or "quantity" word waiting to see whether the next
	// word is its number.
	pending string
	// commandRead is set once the text's first piece, tag, mention or URL is
	// read: only a word in that place is a command.
	commandRead bool
}

// field reads one whitespace-separated field: tags, mentions and URLs are
// taken out wherever they start a word; what lies between them are pieces.
func (r *reader) field(f string) {
	pieceStart := 0
	boundary := true // the previous rune does not continue a word
	for i := 0; i < len(f); {
		c, size := utf8.DecodeRuneInString(f[i:])
		if boundary {
			switch c {
			case '#':
				if end := tagEnd(f, i+size); end > i+size {
					r.piece(f[pieceStart:i])
					r.commandRead = true
					r.addTag(f[i+size : end])
					// The tag ends with a word rune, so a '#' right after it
					// ("#a#b") does not start another tag.
					boundary = false
					i, pieceStart = end, end
					continue
				}
			case '@':
				if end := mentionEnd(f, i+size); end > 0 {
					r.piece(f[pieceStart:i])
					r.commandRead = true
					r.addMention(f[i+size : end])
					boundary = false
					i, pieceStart = end, end
					continue
				}
			case 'h', 'w', 't':
				if isURL(f[i:]) {
					// A URL has no spaces: it runs to the end of the field.
					r.piece(f[pieceStart:i])
					r.commandRead = true
					return
				}
			}
		}
		boundary = !isWordRune(c)
		i += size
	}
	r.piece(f[pieceStart:])
}

// piece reads what is left of a field once tags, mentions and URLs are out:
// a quantity token, a word, or nothing.
func (r *reader) piece(p string) {
	if p == "" {
		return
	}
	start, end := wordBounds(p)
	if start == end {
		r.commandRead = true
		return
	}
	w := p[start:end]
	if !r.commandRead {
		// "@toolonghandle16" or "#️⃣yes" are no command words either.
		if start == 0 || (p[start-1] != '#' && p[start-1] != '@') {
			r.post.Command = w
		}
		r.commandRead = true
	}
	if r.pending != "" {
		pending := r.pending
		r.pending = ""
		if n, ok := quantityNumber(w); ok {
			r.setQuantity(n)
			return
		}
		r.addWord(pending)
	}
	if n, ok := quantityToken(trimToQuantity(p)); ok {
		r.setQuantity(n)
		return
	}
	if w == "qty" || w == "quantity" {
		r.pending = w
		return
	}
	r.addWord(w)
}

// flushPending keeps a "qty" that no number followed as a word.
func (r *reader) flushPending() {
	if r.pending != "" {
		r.addWord(r.pending)
		r.pending = ""
	}
}

// setQuantity records n unless a quantity was already stated: the first wins,
// later quantity tokens are dropped.
func (r *reader) setQuantity(n int) {
	if r.post.Quantity == 0 {
		r.post.Quantity = n
	}
}

func (r *reader) addTag(t string) {
	for _, have := range r.post.Tags {
		if have == t {
			return
		}
	}
	r.post.Tags = append(r.post.Tags, t)
}

func (r *reader) addMention(m string) {
	for _, have := range r.post.Mentions {
		if have == m {
			return
		}
	}
	r.post.Mentions = append(r.post.Mentions, m)
}

func (r *reader) addWord(w string) {
	r.post.Words = append(r.post.Words, w)
}

// tagEnd returns where the hashtag body starting at s[from] ends, or from
// when there is none. A body starts with a letter, digit or '_' (so the
// keycap emoji "#️⃣" is no tag) and goes on over letters, digits, marks and '_'.
func tagEnd(s string, from int) int {
	i := from
	for i < len(s) {
		c, size := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(c) || (i == from && unicode.IsMark(c)) {
			break
		}
		i += size
	}
	return i
}

// mentionEnd returns where the handle starting at s[from] ends, or -1 when
// there is no valid handle: 1 to 15 of [a-z0-9_] (the text is lowercased).
// A longer run is not a handle on X, so it is no mention either.
func mentionEnd(s string, from int) int {
	i := from
	for i < len(s) && isHandleByte(s[i]) {
		i++
		if i-from > 15 {
			return -1
		}
	}
	if i == from {
		return -1
	}
	return i
}

func isHandleByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_'
}

// isURL reports whether s starts like a link. s is lowercased.
func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") ||
		strings.HasPrefix(s, "https://") ||
		strings.HasPrefix(s, "www.") ||
		strings.HasPrefix(s, "t.co/")
}

// isWordRune reports whether c continues a word or hashtag body.
func isWordRune(c rune) bool {
	return c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.IsMark(c)
}

func isLetterOrDigit(c rune) bool {
	return unicode.IsLetter(c) || unicode.IsDigit(c)
}

// wordBounds returns the word inside p as p[start:end]: from the first letter
// or digit to the last one, plus the marks attached to it (so a Devanagari
// word keeps its final vowel sign, while "red❤️" loses the heart). start ==
// end when p holds no letter or digit.
func wordBounds(p string) (start, end int) {
	start = -1
	attached := false
	for i, c := range p {
		switch {
		case isLetterOrDigit(c):
			if start < 0 {
				start = i
			}
			end = i + utf8.RuneLen(c)
			attached = true
		case attached && unicode.IsMark(c):
			end = i + utf8.RuneLen(c)
		default:
			attached = false
		}
	}
	if start < 0 {
		return 0, 0
	}
	return start, end
}

// trimWord returns the word inside p (see wordBounds), or "".
func trimWord(p string) string {
	start, end := wordBounds(p)
	return p[start:end]
}

// trimToQuantity trims p like a word but keeps a leading or trailing '×', so
// "(×2)" reads as "×2".
func trimToQuantity(p string) string {
	keep := func(c rune) bool { return c == '×' || isLetterOrDigit(c) }
	return strings.TrimRightFunc(strings.TrimLeftFunc(p, func(c rune) bool { return !keep(c) }),
		func(c rune) bool { return !keep(c) })
}

// quantityToken reads the one-word quantity forms: x2, ×2, 2x, 2×, qty:2,
// qty=2, quantity:2, quantity=2. s is lowercased.
func quantityToken(s string) (int, bool) {
	for _, prefix := range [...]string{"x", "×", "qty:", "qty=", "quantity:", "quantity="} {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			return quantityNumber(rest)
		}
	}
	for _, suffix := range [...]string{"x", "×"} {
		if rest, ok := strings.CutSuffix(s, suffix); ok {
			return quantityNumber(rest)
		}
	}
	return 0, false
}

// quantityNumber reads s as a quantity: ASCII digits (full-width digits are
// ASCII after normalization) with a value in 1..MaxQuantity.
func quantityNumber(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
		if n > MaxQuantity {
			return 0, false
		}
	}
	return n, n >= 1
}

// countFields counts the whitespace-separated fields of s.
func countFields(s string) int {
	n := 0
	inField := false
	for _, c := range s {
		space := unicode.IsSpace(c)
		if !space && !inField {
			n++
		}
		inField = !space
	}
	return n
}

// truncateUTF8 cuts s to at most max bytes, backing off to a rune start so a
// valid text stays valid.
func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for back := 0; back < utf8.UTFMax-1 && i > 0 && !utf8.RuneStart(s[i]); back++ {
		i--
	}
	return s[:i]
}

// unescapeEntities undoes the HTML escaping X applies to post text. Only
// these three are escaped, so "&amp;lt;" correctly becomes "&lt;".
func unescapeEntities(s string) string {
	if !strings.Contains(s, "&amp;") && !strings.Contains(s, "&lt;") && !strings.Contains(s, "&gt;") {
		return s
	}
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(s)
}

// normalize returns s in the form Post carries: valid UTF-8, invisible
// formatting characters removed, NFKC, case folded. ASCII text, the common
// case, only needs lowercasing and allocates at most once.
func normalize(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = dropIgnorable(s)
	s = norm.NFKC.String(s)
	// Folding can undo NFKC and NFKC can undo folding in rare cases; a few
	// rounds reach the fixed point, so normalizing a result again keeps it.
	fold := cases.Fold()
	for range 4 {
		f := fold.String(s)
		if f == s {
			break
		}
		s = norm.NFKC.String(f)
	}
	return s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isIgnorable reports invisible characters that would otherwise split or
// pad a tag or word: format characters (zero-width space and joiners,
// direction marks, soft hyphen, BOM), variation selectors and Hangul fillers.
func isIgnorable(c rune) bool {
	switch {
	case c >= 0xFE00 && c <= 0xFE0F, c >= 0xE0100 && c <= 0xE01EF, c >= 0x180B && c <= 0x180F:
		return true
	case c == 0x034F, c == 0x115F, c == 0x1160, c == 0x17B4, c == 0x17B5, c == 0x3164, c == 0xFFA0:
		return true
	}
	return unicode.Is(unicode.Cf, c)
}

func dropIgnorable(s string) string {
	if strings.IndexFunc(s, isIgnorable) < 0 {
		return s
	}
	return strings.Map(func(c rune) rune {
		if isIgnorable(c) {
			return -1
		}
		return c
	}, s)
}
