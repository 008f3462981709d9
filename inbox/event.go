package inbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind names what an event is, after the Account Activity array it came in
// ("tweet_create_events" is KindTweetCreate).
type Kind string

// The kinds hashcart acts on. Every other kind is stored and skipped.
const (
	KindTweetCreate   Kind = "tweet_create"
	KindDirectMessage Kind = "direct_message"
)

// Actionable reports whether hashcart acts on events of this kind. Others
// (favorites, follows, typing indicators, ...) are stored for the record
// and never handed to a Handler.
func (k Kind) Actionable() bool { return k == KindTweetCreate || k == KindDirectMessage }

// Status is where an event is in its life.
type Status string

// Statuses of a stored event.
const (
	StatusPending Status = "pending" // waiting for a worker
	StatusDone    Status = "done"    // handled; its effects are committed
	StatusSkipped Status = "skipped" // a kind hashcart does not act on
	StatusDead    Status = "dead"    // the handler failed MaxAttempts times
)

// Event is one event of a delivery.
type Event struct {
	// Seq is the storage sequence number; zero before it is stored.
	Seq int64
	// ID is the event's stable identity: its kind and X's id for it (or a
	// digest of its content when X gives none). Storing is deduplicated by ID.
	ID        string
	ForUserID string
	Kind      Kind
	// Payload is the event's JSON object exactly as X sent it.
	Payload json.RawMessage
	// Users is the delivery's "users" object (DMs name their senders there),
	// or empty.
	Users      json.RawMessage
	ReceivedAt time.Time
	// Attempts counts earlier failed attempts to handle the event.
	Attempts int
}

// ErrMalformed is returned by Split for a body that is not an Account
// Activity delivery.
var ErrMalformed = errors.New("malformed delivery")

// idFields says where X puts the id of each kind of event. Kinds not listed
// get a digest of their content as id, which still deduplicates retries.
var idFields = map[Kind][]string{
	KindTweetCreate:   {"id_str", "id"},
	KindDirectMessage: {"id"},
	"favorite":        {"id"},
	"tweet_delete":    {"status.id"},
}

// Split parses a delivery and returns the user it is for and its events, in
// the order X sent them. receivedAt stamps every event.
func Split(body []byte, receivedAt time.Time) (forUserID string, events []Event, err error) {
	if forUserID, events, ok := splitFast(body, receivedAt); ok {
		return forUserID, events, nil
	}
	return splitSlow(body, receivedAt)
}

// splitSlow is Split by decoding with encoding/json: the reference
// splitFast is checked against, and what answers every input splitFast
// leaves alone (including every malformed one).
func splitSlow(body []byte, receivedAt time.Time) (forUserID string, events []Event, err error) {
	var envelope map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&envelope); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return "", nil, fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	raw, ok := envelope["for_user_id"]
	if !ok {
		return "", nil, fmt.Errorf("%w: no for_user_id", ErrMalformed)
	}
	forUserID, err = idString(raw)
	if err != nil || forUserID == "" {
		return "", nil, fmt.Errorf("%w: for_user_id is not an id", ErrMalformed)
	}
	users := envelope["users"]
	// Deterministic order: JSON objects are unordered, so sort the arrays
	// by key; within an array X's order is kept.
	keys := make([]string, 0, len(envelope))
	for k := range envelope {
		if strings.HasSuffix(k, "_events") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		kind := Kind(strings.TrimSuffix(k, "_events"))
		if kind == "direct_message" || kind == "direct_messages" {
			kind = KindDirectMessage
		}
		var items []json.RawMessage
		if err := json.Unmarshal(envelope[k], &items); err != nil {
			return "", nil, fmt.Errorf("%w: %s is not an array of events", ErrMalformed, k)
		}
		for _, item := range items {
			if len(item) == 0 || item[0] != '{' {
				return "", nil, fmt.Errorf("%w: %s holds a non-object", ErrMalformed, k)
			}
			id := eventID(kind, item)
			ev := Event{
				ID:         id,
				ForUserID:  forUserID,
				Kind:       kind,
				Payload:    item,
				ReceivedAt: receivedAt,
			}
			if kind == KindDirectMessage {
				ev.Users = users
			}
			events = append(events, ev)
		}
	}
	return forUserID, events, nil
}

// eventID is kind:X's id, or kind:sha256:digest when the event carries none.
func eventID(kind Kind, item json.RawMessage) string {
	paths := idFields[kind]
	if len(paths) > 0 {
		// A struct with only the id fields: decoding skips everything else
		// without building a map of the event (a third of Split's cost).
		var probe idProbe
		if err := json.Unmarshal(item, &probe); err == nil {
			for _, path := range paths {
				if v := probe.field(path); v != nil {
					if id, err := idString(v); err == nil && id != "" {
						return string(kind) + ":" + id
					}
				}
			}
		}
	}
	return digestID(kind, item)
}

// digestID is kind:sha256:digest of the event's bytes.
func digestID(kind Kind, item []byte) string {
	sum := sha256.Sum256(item)
	return string(kind) + ":sha256:" + hex.EncodeToString(sum[:16])
}

// idProbe holds the fields idFields names.
type idProbe struct {
	IDStr  json.RawMessage `json:"id_str"`
	ID     json.RawMessage `json:"id"`
	Status *struct {
		ID json.RawMessage `json:"id"`
	} `json:"status"`
}

func (p *idProbe) field(path string) json.RawMessage {
	switch path {
	case "id_str":
		return p.IDStr
	case "id":
		return p.ID
	case "status.id":
		if p.Status != nil {
			return p.Status.ID
		}
	}
	return nil
}

// idString accepts X ids as JSON strings or numbers (numbers kept exact).
func idString(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return "", err
	}
	return n.String(), nil
}
