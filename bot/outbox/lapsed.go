package outbox

import (
	"context"
	"html"
	"regexp"
	"strings"
	"time"

	"github.com/hashcart/hashcart/bot/xapi"
	"golang.org/x/text/unicode/norm"
)

// lookBackSlack widens a lapsed reply's look-back before the message was
// enqueued, for a difference between our clock and X's.
const lookBackSlack = 2 * time.Minute

// sentAtX is a message X lists as sent by the account.
type sentAtX struct{ id, text string }

// alreadySent looks at X for a message whose earlier claim lapsed: a DM
// among the recent messages of its conversation (DMLister), a reply or
// public post among the account's posts since the message was enqueued
// (PostLister) that answers the same post. It reports the X id of a
// message with the same text (see sameText). A client that cannot list, or
// a look-up that fails (a 429 or 5xx included), finds nothing and the
// message is sent: a possible duplicate is preferred to a lost checkout
// link or confirmation, and X's read limits are not its post limits.
func (s *Sender) alreadySent(ctx context.Context, creds xapi.Credentials, m Claimed, timeout time.Duration) (string, bool) {
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		candidates []sentAtX
		err        error
	)
	switch m.Kind {
	case KindDM:
		lister, ok := s.Client.(xapi.DMLister)
		if !ok {
			return "", false
		}
		var dms []xapi.SentDM
		dms, err = lister.SentDMs(callCtx, creds, m.RecipientID)
		for _, d := range dms {
			candidates = append(candidates, sentAtX{d.ID, d.Text})
		}
	default:
		lister, ok := s.Client.(xapi.PostLister)
		if !ok {
			return "", false
		}
		// The lapsed attempt was made after the message was enqueued
		// (CreatedAt, at or before its first claim), and the message is
		// given up after MaxAge, so the look-back is bounded by both.
		var posts []xapi.SentPost
		posts, err = lister.SentPosts(callCtx, creds, xapi.PostQuery{Since: m.CreatedAt.Add(-lookBackSlack)})
		for _, p := range posts {
			if p.InReplyTo == m.InReplyTo {
				candidates = append(candidates, sentAtX{p.ID, p.Text})
			}
		}
	}
	candidates, lerr := s.notRecorded(ctx, candidates)
	if lerr != nil {
		s.Log.Warn("outbox could not tell X's messages from those it recorded; sending", "key", m.Key, "kind", m.Kind, "err", lerr)
		return "", false
	}
	// Posts read before a failure (ErrTooManyPosts) still count if found.
	want := comparable(strings.ReplaceAll(m.Text, LinkPlaceholder, "https://link.invalid/"))
	for _, c := range candidates {
		if comparable(c.text) == want {
			return c.id, true
		}
	}
	if err != nil {
		s.Log.Warn("outbox could not check X for a lapsed message; sending", "key", m.Key, "kind", m.Kind, "err", err)
	}
	return "", false
}

// notRecorded leaves out the candidates recorded as other messages' sends
// (see SentLookup): an earlier message with the same text is not this one.
func (s *Sender) notRecorded(ctx context.Context, candidates []sentAtX) ([]sentAtX, error) {
	lookup, ok := s.Store.(SentLookup)
	if !ok || len(candidates) == 0 {
		return candidates, nil
	}
	ids := make([]string, len(candidates))
	for i, c := range candidates {
		ids[i] = c.id
	}
	recorded, err := lookup.RecordedXIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := candidates[:0]
	for _, c := range candidates {
		if !recorded[c.id] {
			out = append(out, c)
		}
	}
	return out, nil
}

var (
	urlPattern     = regexp.MustCompile(`https?://\S+`)
	leadingMention = regexp.MustCompile(`^(@\w+\s+)+`)
)

// comparable reduces a message text to what survives X's rendering, so
// that the text stored in the outbox and the text X lists compare equal:
// HTML entities decoded (X escapes & < >), Unicode in NFC (X normalises),
// every link one token (X shortens links to t.co, and a link minted for
// the lapsed attempt differs from today's), the @names X puts before a
// reply dropped, and runs of white space made one space.
func comparable(text string) string {
	text = norm.NFC.String(html.UnescapeString(text))
	text = urlPattern.ReplaceAllString(text, "\x00link")
	text = strings.Join(strings.Fields(text), " ")
	return strings.TrimSpace(leadingMention.ReplaceAllString(text+" ", ""))
}
