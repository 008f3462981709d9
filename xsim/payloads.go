package xsim

import (
	"strconv"
	"time"
	"unicode"
)

// Tweet describes a post for TweetCreate (and the Server's v1.1 answers).
type Tweet struct {
	// ID is the post id, a decimal string.
	ID string
	// Text is the post text; its hashtags become entities.hashtags.
	Text string
	// UserID and ScreenName identify the author.
	UserID, ScreenName string
	// InReplyToStatusID, InReplyToUserID and InReplyToScreenName are set
	// when the post is a reply.
	InReplyToStatusID, InReplyToUserID, InReplyToScreenName string
	// Retweet marks a retweet, Quote a quote post; either adds the matching
	// retweeted_status / quoted_status object (about OriginalID).
	Retweet, Quote bool
	// OriginalID is the id of the retweeted or quoted post, when Retweet or
	// Quote is set.
	OriginalID string
	// At is when the post was created.
	At time.Time
}

// createdAtLayout is X's v1.1 created_at format.
const createdAtLayout = "Mon Jan 02 15:04:05 -0700 2006"

// TweetCreate returns an Account Activity tweet_create_events payload for
// forUserID (the subscribed account) carrying t as v1.1 tweet JSON: id,
// id_str, text, created_at, timestamp_ms, in_reply_to_* fields (null when
// not a reply), user {id, id_str, screen_name, name}, entities {hashtags,
// user_mentions, urls, symbols}, and retweeted_status / quoted_status when set.
func TweetCreate(forUserID string, t Tweet) map[string]any {
	return map[string]any{
		"for_user_id":         forUserID,
		"tweet_create_events": []any{tweetJSON(t)},
	}
}

// tweetJSON renders t as v1.1 tweet JSON.
func tweetJSON(t Tweet) map[string]any {
	at := t.At.UTC()
	m := map[string]any{
		"id":                        idNumber(t.ID),
		"id_str":                    t.ID,
		"text":                      t.Text,
		"created_at":                at.Format(createdAtLayout),
		"timestamp_ms":              strconv.FormatInt(at.UnixMilli(), 10),
		"truncated":                 false,
		"in_reply_to_status_id":     nullableID(t.InReplyToStatusID),
		"in_reply_to_status_id_str": nullable(t.InReplyToStatusID),
		"in_reply_to_user_id":       nullableID(t.InReplyToUserID),
		"in_reply_to_user_id_str":   nullable(t.InReplyToUserID),
		"in_reply_to_screen_name":   nullable(t.InReplyToScreenName),
		"is_quote_status":           t.Quote,
		"user":                      userJSON(t.UserID, t.ScreenName),
		"entities": map[string]any{
			"hashtags":      hashtags(t.Text),
			"user_mentions": []any{},
			"urls":          []any{},
			"symbols":       []any{},
		},
	}
	original := map[string]any{"id": idNumber(t.OriginalID), "id_str": t.OriginalID}
	if t.Retweet {
		m["retweeted_status"] = original
	}
	if t.Quote {
		m["quoted_status_id_str"] = t.OriginalID
		m["quoted_status"] = original
	}
	return m
}

// userJSON renders a v1.1 user object; name defaults to the screen name.
func userJSON(id, screenName string) map[string]any {
	return map[string]any{
		"id":          idNumber(id),
		"id_str":      id,
		"screen_name": screenName,
		"name":        screenName,
	}
}

// DirectMessage returns an Account Activity direct_message_events payload for
// forUserID: one message_create event with the given id, sent by senderID to
// recipientID at at (created_timestamp in unix milliseconds), and a users map
// describing the sender (and the recipient by id).
func DirectMessage(forUserID, id, senderID, recipientID, senderScreenName, text string, at time.Time) map[string]any {
	users := map[string]any{
		recipientID: map[string]any{"id": recipientID},
		senderID:    map[string]any{"id": senderID, "screen_name": senderScreenName, "name": senderScreenName},
	}
	return map[string]any{
		"for_user_id":           forUserID,
		"direct_message_events": []any{dmEventJSON(id, senderID, recipientID, text, at)},
		"users":                 users,
	}
}

// dmEventJSON renders a message_create event as X's v1.1 DM endpoints and
// Account Activity deliver it.
func dmEventJSON(id, senderID, recipientID, text string, at time.Time) map[string]any {
	return map[string]any{
		"type":              "message_create",
		"id":                id,
		"created_timestamp": strconv.FormatInt(at.UnixMilli(), 10),
		"message_create": map[string]any{
			"target":    map[string]any{"recipient_id": recipientID},
			"sender_id": senderID,
			"message_data": map[string]any{
				"text": text,
				"entities": map[string]any{
					"hashtags":      hashtags(text),
					"user_mentions": []any{},
					"urls":          []any{},
					"symbols":       []any{},
				},
			},
		},
	}
}

// Favorite returns an Account Activity favorite_events payload for forUserID:
// userID liked the post tweetID; id is the event id.
func Favorite(forUserID, id, userID, tweetID string) map[string]any {
	return map[string]any{
		"for_user_id": forUserID,
		"favorite_events": []any{map[string]any{
			"id":               id,
			"favorited_status": map[string]any{"id": idNumber(tweetID), "id_str": tweetID},
			"user":             map[string]any{"id": idNumber(userID), "id_str": userID},
		}},
	}
}

// Follow returns an Account Activity follow_events payload for forUserID:
// sourceID followed targetID. The builder takes no clock, so
// created_timestamp is "0".
func Follow(forUserID, sourceID, targetID string) map[string]any {
	return map[string]any{
		"for_user_id": forUserID,
		"follow_events": []any{map[string]any{
			"type":              "follow",
			"created_timestamp": "0",
			"source":            map[string]any{"id": sourceID},
			"target":            map[string]any{"id": targetID},
		}},
	}
}

// hashtags finds #tags in text as X's entity extraction does, in outline: a
// '#' not preceded by a letter, digit or '_', followed by letters, digits
// and '_' containing at least one letter. Indices count code points, as X's do.
func hashtags(text string) []any {
	out := []any{}
	runes := []rune(text)
	for i := 0; i < len(runes); i++ {
		if (runes[i] != '#' && runes[i] != '＃') || (i > 0 && isTagRune(runes[i-1])) {
			continue
		}
		j, letter := i+1, false
		for j < len(runes) && isTagRune(runes[j]) {
			letter = letter || unicode.IsLetter(runes[j])
			j++
		}
		if letter {
			out = append(out, map[string]any{"text": string(runes[i+1 : j]), "indices": []int{i, j}})
		}
		i = j - 1
	}
	return out
}

// isTagRune reports whether r may appear in a hashtag.
func isTagRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// idNumber renders a decimal id as X's numeric "id" field (null when it is
// not a valid int64), alongside the exact "id_str".
func idNumber(id string) any {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	return n
}

// nullableID is idNumber, but also null for "".
func nullableID(id string) any {
	if id == "" {
		return nil
	}
	return idNumber(id)
}

// nullable renders "" as JSON null, as X does for absent string fields.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
