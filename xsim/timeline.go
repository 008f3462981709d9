package xsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// v2TimeLayout is how v2 renders created_at.
const v2TimeLayout = "2006-01-02T15:04:05.000Z"

// timelineRoute returns the endpoint for a GET of a user's own posts, or nil:
//
//   - GET /2/users/{id}/tweets (v2),
//   - GET /1.1/statuses/user_timeline.json (v1.1).
func (s *Server) timelineRoute(r *http.Request) endpoint {
	if r.Method != http.MethodGet {
		return nil
	}
	p := r.URL.Path
	if p == "/1.1/statuses/user_timeline.json" {
		return s.userTimelineV11
	}
	if rest, ok := strings.CutPrefix(p, "/2/users/"); ok {
		if id, ok := strings.CutSuffix(rest, "/tweets"); ok && id != "" && !strings.Contains(id, "/") {
			return func(w http.ResponseWriter, r *http.Request, token string) {
				s.userTweetsV2(w, r, id)
			}
		}
	}
	return nil
}

// postsBy returns the posts whose author's token names userID, newest first,
// that keep.
func (s *Server) postsBy(userID string, keep func(Post) bool) []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Post
	for i := len(s.posts) - 1; i >= 0; i-- {
		p := s.posts[i]
		if userIDFromToken(p.AuthorToken) == userID && keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// idAfter reports whether id a is greater than id b (both decimal ids).
func idAfter(a, b string) bool {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return x > y
}

// userTweetsV2 serves GET /2/users/{id}/tweets: the user's posts, newest
// first, as X's v2 timeline answers. It reads max_results (5–100, default
// 10), start_time and end_time (RFC 3339, inclusive, whole seconds),
// since_id and until_id (exclusive), pagination_token (a meta.next_token
// from an earlier page) and tweet.fields (created_at, referenced_tweets,
// in_reply_to_user_id, conversation_id and author_id are filled in when
// asked for; id, text and edit_history_tweet_ids always are). Retweets
// and quotes are never published through the Server, so exclude changes
// nothing. The answer is not recorded as a post.
func (s *Server) userTweetsV2(w http.ResponseWriter, r *http.Request, userID string) {
	q := r.URL.Query()
	if !isDigits(userID) {
		invalidRequest(w, "The `id` path parameter value is not valid.")
		return
	}
	limit := 10
	if v := q.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 100 {
			invalidRequest(w, "The `max_results` query parameter value ["+v+"] is not between 5 and 100")
			return
		}
		limit = n
	}
	var start, end time.Time
	for _, b := range []struct {
		name string
		t    *time.Time
	}{{"start_time", &start}, {"end_time", &end}} {
		if v := q.Get(b.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				invalidRequest(w, "The `"+b.name+"` query parameter value ["+v+"] is not a valid RFC 3339 time.")
				return
			}
			*b.t = t
		}
	}
	sinceID, untilID, page := q.Get("since_id"), q.Get("until_id"), q.Get("pagination_token")
	for _, b := range []struct{ name, v string }{{"since_id", sinceID}, {"until_id", untilID}} {
		if b.v != "" && !isDigits(b.v) {
			invalidRequest(w, "The `"+b.name+"` query parameter value ["+b.v+"] is not valid.")
			return
		}
	}
	// A page token is the id of the last post of the previous page.
	before, ok := strings.CutPrefix(page, "p")
	if page != "" && (!ok || !isDigits(before)) {
		invalidRequest(w, "The `pagination_token` query parameter value ["+page+"] is not valid.")
		return
	}
	fields := map[string]bool{}
	for f := range strings.SplitSeq(q.Get("tweet.fields"), ",") {
		fields[f] = true
	}
	posts := s.postsBy(userID, func(p Post) bool {
		at := p.At.Truncate(time.Second)
		return (start.IsZero() || !at.Before(start)) && (end.IsZero() || !at.After(end)) &&
			(sinceID == "" || idAfter(p.ID, sinceID)) && (untilID == "" || idAfter(untilID, p.ID)) &&
			(before == "" || idAfter(before, p.ID))
	})
	meta := map[string]any{}
	if len(posts) > limit {
		posts = posts[:limit]
		meta["next_token"] = "p" + posts[len(posts)-1].ID
	}
	meta["result_count"] = len(posts)
	if len(posts) == 0 {
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"meta": meta})
		return
	}
	meta["newest_id"], meta["oldest_id"] = posts[0].ID, posts[len(posts)-1].ID
	data := make([]map[string]any, 0, len(posts))
	for _, p := range posts {
		d := map[string]any{"id": p.ID, "text": p.Text, "edit_history_tweet_ids": []string{p.ID}}
		if fields["created_at"] {
			d["created_at"] = p.At.UTC().Truncate(time.Second).Format(v2TimeLayout) // X gives whole seconds
		}
		if fields["author_id"] {
			d["author_id"] = userID
		}
		if fields["conversation_id"] && p.InReplyTo == "" {
			// The Server does not follow reply chains, so a reply's
			// conversation (its thread's first post) is unknown and left out.
			d["conversation_id"] = p.ID
		}
		if fields["referenced_tweets"] && p.InReplyTo != "" {
			d["referenced_tweets"] = []map[string]any{{"type": "replied_to", "id": p.InReplyTo}}
		}
		// in_reply_to_user_id is left out: the Server does not know who
		// wrote the post replied to.
		data = append(data, d)
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"data": data, "meta": meta})
}

// userTimelineV11 serves GET /1.1/statuses/user_timeline.json: the posts of
// user_id (or, without it, of the account the token names), newest first, as
// v1.1 tweet objects. It reads count (1–200, default 20; more is cut to
// 200), since_id (exclusive), max_id (inclusive), exclude_replies and
// tweet_mode=extended (full_text and display_text_range instead of text).
// screen_name is not supported (the Server knows no screen names). The
// answer is not recorded as a post.
func (s *Server) userTimelineV11(w http.ResponseWriter, r *http.Request, token string) {
	q := r.URL.Query()
	userID := q.Get("user_id")
	if userID == "" {
		userID = userIDFromToken(token)
	}
	if !isDigits(userID) {
		writeError(w, v11, http.StatusNotFound, 34, "Sorry, that page does not exist.")
		return
	}
	count := 20
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, v11, http.StatusBadRequest, 44, "count parameter is invalid.")
			return
		}
		count = min(n, 200)
	}
	sinceID, maxID := q.Get("since_id"), q.Get("max_id")
	for _, b := range []struct{ name, v string }{{"since_id", sinceID}, {"max_id", maxID}} {
		if b.v != "" && !isDigits(b.v) {
			writeError(w, v11, http.StatusBadRequest, 44, b.name+" parameter is invalid.")
			return
		}
	}
	noReplies := isTrue(q.Get("exclude_replies"))
	extended := q.Get("tweet_mode") == "extended"
	posts := s.postsBy(userID, func(p Post) bool {
		return (sinceID == "" || idAfter(p.ID, sinceID)) && (maxID == "" || !idAfter(p.ID, maxID)) &&
			!(noReplies && p.InReplyTo != "")
	})
	posts = posts[:min(len(posts), count)]
	out := make([]map[string]any, 0, len(posts))
	for _, p := range posts {
		t := tweetJSON(Tweet{ID: p.ID, Text: p.Text, UserID: userID, InReplyToStatusID: p.InReplyTo, At: p.At})
		if extended {
			delete(t, "text")
			t["full_text"] = p.Text
			t["display_text_range"] = []int{0, len([]rune(p.Text))}
		}
		out = append(out, t)
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", out)
}

// isTrue reads a v1.1 boolean parameter ("true", "t" or "1").
func isTrue(v string) bool {
	return slices.Contains([]string{"true", "t", "1"}, strings.ToLower(v))
}
