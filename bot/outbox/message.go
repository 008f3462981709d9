package outbox

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// Kind of message.
type Kind string

// Kinds of message. A KindReply answers one shopper's post; a KindPost is a
// public notice for everyone (such as "sold out"). The X client publishes
// only replies, so a KindPost is published as a reply to the post named by
// InReplyTo (the offer's post), where the shoppers who replied will see it.
const (
	KindDM    Kind = "dm"
	KindReply Kind = "reply"
	KindPost  Kind = "post"
)

// Priorities: lower is sent first.
const (
	PriorityCheckout     = 0
	PriorityConfirmation = 5
	PriorityNotice       = 10
	PriorityReminder     = 20
	PrioritySoldOut      = 30
)

// LinkPlaceholder in Text is replaced at send time by a freshly minted
// private link. Only the placeholder is ever stored.
const LinkPlaceholder = "[[link]]"

// Link asks for a private link to be minted when the message is sent.
// A message whose link has expired (its hold is gone) is not sent.
type Link struct {
	BuyerID   string
	Target    commerce.LinkTarget
	ExpiresAt time.Time
}

// Message is one message to X. See the package documentation for how it is
// stored and sent.
type Message struct {
	// Key is unique; e.g. "tweet_create:123:dm_checkout" (cause + kind).
	// Enqueueing a message whose Key is stored already does nothing.
	Key string
	// MerchantID is whose account sends it (its access token signs).
	MerchantID string
	Kind       Kind
	// Priority orders sending; lower first (see the Priority constants).
	Priority int
	// RecipientID is the X user id a DM is sent to.
	RecipientID string
	// InReplyTo is the post id a reply (or public post) answers.
	InReplyTo string
	Text      string
	// Link, if set, is minted at send time into Text's LinkPlaceholder.
	Link *Link
	// Group names messages that one public post can replace, e.g.
	// "soldout:acme/signed-vinyl".
	Group string
	// Collapse is the single public post sent instead of the whole Group
	// when the budget cannot answer everyone. Every member of a group
	// carries the same Collapse with the same Key, so it is sent once.
	Collapse *Message
	// OnSent is enqueued in the transaction that marks this message sent
	// (e.g. the public "check your DMs" reply after the DM went out).
	OnSent *Message
	// OnDMClosed is enqueued instead of retrying when X says the recipient
	// does not accept DMs (the public fallback reply).
	OnDMClosed *Message
}

// ErrInvalid is matched (errors.Is) by the error of Enqueue for a message
// that could never be sent; nothing is stored then.
var ErrInvalid = errors.New("invalid outbox message")

// Validate reports, wrapping ErrInvalid, what makes m (or a message it
// carries) impossible to send: a missing key, merchant, text, recipient or
// post to reply to, an unknown kind, or a Link without LinkPlaceholder.
func (m *Message) Validate() error {
	if err := m.validate(); err != nil {
		return fmt.Errorf("%w %q: %s", ErrInvalid, m.Key, err)
	}
	for _, f := range []struct {
		name string
		m    *Message
	}{{"collapse", m.Collapse}, {"on_sent", m.OnSent}, {"on_dm_closed", m.OnDMClosed}} {
		if f.m == nil {
			continue
		}
		if err := f.m.Validate(); err != nil {
			return fmt.Errorf("%s of %q: %w", f.name, m.Key, err)
		}
	}
	return nil
}

func (m *Message) validate() error {
	switch {
	case m.Key == "":
		return errors.New("no key")
	case m.MerchantID == "":
		return errors.New("no merchant")
	case strings.TrimSpace(m.Text) == "":
		return errors.New("no text")
	case m.Link != nil && !strings.Contains(m.Text, LinkPlaceholder):
		return fmt.Errorf("link but no %s in text", LinkPlaceholder)
	case m.Link == nil && strings.Contains(m.Text, LinkPlaceholder):
		return fmt.Errorf("%s in text but no link", LinkPlaceholder)
	case m.Collapse != nil && m.Group == "":
		return errors.New("collapse without group")
	}
	switch m.Kind {
	case KindDM:
		if m.RecipientID == "" {
			return errors.New("dm without recipient")
		}
	case KindReply, KindPost:
		if m.InReplyTo == "" {
			return errors.New("reply without post to reply to")
		}
		if m.OnDMClosed != nil {
			return errors.New("on_dm_closed on a message that is not a dm")
		}
	default:
		return fmt.Errorf("unknown kind %q", m.Kind)
	}
	return nil
}

// Status is where a stored message is in its life.
type Status string

// Statuses of a stored message.
const (
	StatusPending       Status = "pending"       // waiting to be sent (or for budget, or for a retry)
	StatusSending       Status = "sending"       // leased by a sender
	StatusSent          Status = "sent"          // X accepted it
	StatusFailed        Status = "failed"        // X refused it for good
	StatusUndeliverable Status = "undeliverable" // a DM the recipient does not accept
	StatusExpired       Status = "expired"       // given up: too old, or its link's hold is gone
	StatusCollapsed     Status = "collapsed"     // replaced by its group's Collapse post
)
