package commerce

import "slices"

// Intent is what a shopper asks for with their tag.
type Intent int

// Intents.
const (
	IntentBuy  Intent = iota + 1 // a buy tag: hold stock and send a checkout link
	IntentCart                   // a cart tag: add to the buyer's cart
)

// Request is a normalized post addressed to a merchant: a reply to one of
// its posts or a mention of it.
type Request struct {
	MerchantID string
	// InReplyTo is the post replied to, "" for a plain mention.
	InReplyTo string
	// Tags and Words are normalized as the bot's reader normalizes them.
	Tags, Words []string
	// Quantity is 0 when the post does not say.
	Quantity int
}

// Match is the offer, variant and quantity a request asks for.
type Match struct {
	Offer    *Offer
	Variant  string
	Quantity int
	Intent   Intent
}

// MatchError carries the candidates of an ErrAmbiguous or the offer of an
// ErrVariantRequired, so the answer can list the choices.
type MatchError struct {
	Err        error
	Candidates []*Offer
	Offer      *Offer
}

func (e *MatchError) Error() string { return e.Err.Error() }

// Unwrap returns the sentinel error.
func (e *MatchError) Unwrap() error { return e.Err }

// Match finds the offer a request is for.
//
// A reply to one of an offer's posts with one of its buy or cart tags
// matches it; so does a mention of the merchant with an offer's keyword
// and a tag. When several offers qualify (they share a post), a keyword or
// a variant name in the post decides; otherwise the error is ErrAmbiguous.
// An offer with variants needs the variant named unless it has only one:
// ErrVariantRequired. The quantity defaults to 1.
func (c *Catalog) Match(req Request) (Match, error) {
	m, ok := c.merchants[req.MerchantID]
	if !ok {
		return Match{}, ErrNoMatch
	}
	var pool []*Offer
	if req.InReplyTo != "" {
		for _, o := range c.byPost[req.InReplyTo] {
			if o.MerchantID == m.ID {
				pool = append(pool, o)
			}
		}
	}
	byKeyword := len(pool) == 0
	if byKeyword {
		for _, o := range m.Offers {
			if hasAny(req.Words, o.Keywords) {
				pool = append(pool, o)
			}
		}
	}
	type cand struct {
		o      *Offer
		intent Intent
	}
	var cands []cand
	for _, o := range pool {
		switch {
		case hasAny(req.Tags, o.BuyTags):
			cands = append(cands, cand{o, IntentBuy})
		case hasAny(req.Tags, o.CartTags):
			cands = append(cands, cand{o, IntentCart})
		}
	}
	if len(cands) == 0 {
		return Match{}, ErrNoMatch
	}
	if len(cands) > 1 {
		var narrowed []cand
		for _, c := range cands {
			if hasAny(req.Words, c.o.Keywords) || variantIn(c.o, req.Words) != "" {
				narrowed = append(narrowed, c)
			}
		}
		if len(narrowed) != 1 {
			offers := make([]*Offer, len(cands))
			for i, c := range cands {
				offers[i] = c.o
			}
			return Match{}, &MatchError{Err: ErrAmbiguous, Candidates: offers}
		}
		cands = narrowed
	}
	o := cands[0].o
	variant := ""
	if len(o.Variants) > 0 {
		variant = variantIn(o, req.Words)
		if variant == "" {
			if len(o.Variants) > 1 {
				return Match{}, &MatchError{Err: ErrVariantRequired, Offer: o}
			}
			variant = o.Variants[0].Name
		}
	}
	q := req.Quantity
	if q <= 0 {
		q = 1
	}
	return Match{Offer: o, Variant: variant, Quantity: q, Intent: cands[0].intent}, nil
}

// variantIn returns the configured name of the first variant named in words.
func variantIn(o *Offer, words []string) string {
	for _, v := range o.Variants {
		if slices.Contains(words, v.Key) {
			return v.Name
		}
	}
	return ""
}

func hasAny(have, want []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}
