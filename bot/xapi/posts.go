package xapi

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dghubble/go-twitter/twitter"
)

// SentPost is one of an account's own posts, as X lists them.
type SentPost struct {
	ID string
	// Text is as X renders it, which need not be byte for byte what was
	// posted: a reply may start with the @names X added, links may be
	// shortened (t.co), and & < > come HTML-escaped.
	Text string
	// InReplyTo is the id of the post this one replies to, or "".
	InReplyTo string
	// CreatedAt is X's time of the post, in whole seconds.
	CreatedAt time.Time
}

// PostQuery selects an account's recent posts.
type PostQuery struct {
	// Since is required: posts created before it are left out. X counts
	// whole seconds, so the posts of Since's own second are included.
	Since time.Time
	// Max bounds how many posts are read, across X's pages; 0 means
	// DefaultMaxPosts.
	Max int
}

// DefaultMaxPosts is how many posts SentPosts reads at most by default.
const DefaultMaxPosts = 1000

// ErrTooManyPosts is matched (errors.Is) by the error of SentPosts when the
// account posted more than PostQuery.Max posts since PostQuery.Since: the
// posts read (the newest) are returned with it, the older ones were not
// looked at.
var ErrTooManyPosts = errors.New("more posts than the look-up reads")

// PostLister can list the posts an account made recently, newest first, so
// that a sender unsure whether its last attempt at a reply went through can
// look before posting again (X takes no idempotency key). Both the v2 and
// the v1.1 clients implement it; the account is Credentials.UserID.
type PostLister interface {
	SentPosts(ctx context.Context, creds Credentials, q PostQuery) ([]SentPost, error)
}

var (
	_ PostLister = (*v2Client)(nil)
	_ PostLister = (*v11Client)(nil)
)

// accountID returns the user id of creds' account: UserID, or the user id
// part of the access token.
func accountID(creds Credentials) (string, error) {
	id := creds.UserID
	if id == "" {
		id, _, _ = strings.Cut(creds.AccessToken, "-")
	}
	if _, err := strconv.ParseUint(id, 10, 63); err != nil {
		return "", errors.New("no X user id for the account: set Credentials.UserID")
	}
	return id, nil
}

// prepare checks q and returns its lower bound (whole seconds) and its
// post limit.
func (q PostQuery) prepare() (time.Time, int, error) {
	if q.Since.IsZero() {
		return time.Time{}, 0, errors.New("no lower time bound")
	}
	limit := q.Max
	if limit <= 0 {
		limit = DefaultMaxPosts
	}
	return q.Since.UTC().Truncate(time.Second), limit, nil
}

// SentPosts calls GET /2/users/{id}/tweets with start_time, max_results=100,
// exclude=retweets and tweet.fields=created_at,referenced_tweets,
// in_reply_to_user_id,conversation_id, following meta.next_token until the
// posts since q.Since are read or q.Max is reached.
func (c *v2Client) SentPosts(ctx context.Context, creds Credentials, q PostQuery) ([]SentPost, error) {
	userID, err := accountID(creds)
	if err != nil {
		return nil, fmt.Errorf("list posts: %w", err)
	}
	since, limit, err := q.prepare()
	if err != nil {
		return nil, fmt.Errorf("list posts: %w", err)
	}
	var out []SentPost
	query := url.Values{
		"max_results":  {"100"},
		"start_time":   {since.Format(time.RFC3339)},
		"exclude":      {"retweets"},
		"tweet.fields": {"created_at,referenced_tweets,in_reply_to_user_id,conversation_id"},
	}
	for {
		var page struct {
			Data []struct {
				ID               string `json:"id"`
				Text             string `json:"text"`
				CreatedAt        string `json:"created_at"`
				ReferencedTweets []struct {
					Type string `json:"type"`
					ID   string `json:"id"`
				} `json:"referenced_tweets"`
			} `json:"data"`
			Meta struct {
				NextToken string `json:"next_token"`
			} `json:"meta"`
		}
		if err := c.get(ctx, creds, "/2/users/"+url.PathEscape(userID)+"/tweets", query, &page, false); err != nil {
			return out, fmt.Errorf("list posts: %w", err)
		}
		for _, d := range page.Data {
			at, err := time.Parse(time.RFC3339, d.CreatedAt)
			if err != nil {
				return out, fmt.Errorf("list posts: post %s: created_at %q: %w", d.ID, d.CreatedAt, err)
			}
			p := SentPost{ID: d.ID, Text: d.Text, CreatedAt: at}
			for _, r := range d.ReferencedTweets {
				if r.Type == "replied_to" {
					p.InReplyTo = r.ID
				}
			}
			out = append(out, p)
		}
		if page.Meta.NextToken == "" {
			return out, nil
		}
		if len(out) >= limit {
			return out, fmt.Errorf("list posts: %d read: %w", len(out), ErrTooManyPosts)
		}
		query.Set("pagination_token", page.Meta.NextToken)
	}
}

// twitterEpochMS is the snowflake epoch of X's ids (2010-11-04T01:42:54.657Z).
const twitterEpochMS = 1288834974657

// idBefore returns the largest X id that can only belong to a post created
// before t: X's ids are snowflakes, milliseconds since its epoch shifted
// left by 22 bits. It is 0 for times before the epoch.
func idBefore(t time.Time) int64 {
	ms := t.UnixMilli() - twitterEpochMS
	if ms <= 0 {
		return 0
	}
	return ms<<22 - 1
}

// SentPosts calls GET /1.1/statuses/user_timeline.json with user_id,
// count=200, since_id (the id X gives posts at q.Since, as v1.1 takes no
// time), include_rts=false, exclude_replies=false, trim_user=true and
// tweet_mode=extended, paging back with max_id until the posts since
// q.Since are read or q.Max is reached.
func (c *v11Client) SentPosts(ctx context.Context, creds Credentials, q PostQuery) ([]SentPost, error) {
	if c.baseErr != nil {
		return nil, fmt.Errorf("list posts: %w", c.baseErr)
	}
	userID, err := accountID(creds)
	if err != nil {
		return nil, fmt.Errorf("list posts: %w", err)
	}
	uid, _ := strconv.ParseInt(userID, 10, 64) // accountID checked it
	since, limit, err := q.prepare()
	if err != nil {
		return nil, fmt.Errorf("list posts: %w", err)
	}
	params := &twitter.UserTimelineParams{
		UserID:          uid,
		Count:           200,
		SinceID:         idBefore(since),
		TrimUser:        twitter.Bool(true),
		ExcludeReplies:  twitter.Bool(false),
		IncludeRetweets: twitter.Bool(false),
		TweetMode:       "extended",
	}
	var out []SentPost
	for {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("list posts: %w", err)
		}
		tweets, resp, err := c.twitter(ctx, creds).Timelines.UserTimeline(params)
		if err := v11Error(resp, err, false); err != nil {
			return out, fmt.Errorf("list posts: %w", err)
		}
		if len(tweets) == 0 {
			return out, nil
		}
		older := false
		for _, t := range tweets {
			at, err := t.CreatedAtTime()
			if err != nil {
				return out, fmt.Errorf("list posts: post %s: created_at %q: %w", t.IDStr, t.CreatedAt, err)
			}
			if at.Before(since) {
				older = true
				continue
			}
			text := t.FullText
			if text == "" {
				text = t.Text
			}
			out = append(out, SentPost{ID: t.IDStr, Text: text, InReplyTo: t.InReplyToStatusIDStr, CreatedAt: at.UTC()})
		}
		if older {
			return out, nil
		}
		if len(out) >= limit {
			return out, fmt.Errorf("list posts: %d read: %w", len(out), ErrTooManyPosts)
		}
		params.MaxID = tweets[len(tweets)-1].ID - 1
	}
}
