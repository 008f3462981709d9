package xsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// ConsumerKey is the only consumer key (API key) the Server accepts.
	ConsumerKey string
	// ConsumerSecret signs webhook deliveries (Deliver, Sign, CRCResponse).
	ConsumerSecret string
	// Now is the Server's clock: it stamps records and ids and decides when a
	// rate limit ends. Nil means time.Now.
	Now func() time.Time
	// HTTPClient sends webhook deliveries. Nil means a client with a 10 second
	// timeout.
	HTTPClient *http.Client
}

// Server is an in-memory X API. It implements http.Handler, and all its
// methods are safe for concurrent use.
type Server struct {
	opts   Options
	client *http.Client

	mu         sync.Mutex
	ids        snowflakes
	requests   int
	posts      []Post
	dms        []DM
	limitUntil time.Time
	failLeft   int
	failStatus int
	closedDMs  map[string]bool
	activity   activityState // webhooks, subscriptions, bearer token (activity.go)
	// changed is closed and replaced whenever posts or dms change, waking
	// WaitPosts and WaitDMs without polling.
	changed chan struct{}
}

// New returns an empty Server with no faults injected.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Server{
		opts:      opts,
		client:    client,
		closedDMs: make(map[string]bool),
		changed:   make(chan struct{}),
	}
}

// Requests returns how many requests the Server has seen since New or Reset,
// including those it refused (unknown path, faults, failed authentication).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Reset forgets every record, the request count and every injected fault.
// Ids handed out after Reset still never repeat earlier ones.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = 0
	s.posts = nil
	s.dms = nil
	s.limitUntil = time.Time{}
	s.failLeft, s.failStatus = 0, 0
	s.closedDMs = make(map[string]bool)
	s.resetActivityLocked()
	s.broadcastLocked()
}

// apiVersion names the wire format of an endpoint family.
type apiVersion string

const (
	v2  apiVersion = "2"
	v11 apiVersion = "1.1"
)

// endpoint handles one authenticated request; token is the caller's
// oauth_token.
type endpoint func(w http.ResponseWriter, r *http.Request, token string)

// maxBody bounds request bodies; X's own limits are far below it.
const maxBody = 1 << 20

// ServeHTTP answers an X API request. In order it: counts the request; answers
// 404 for an unknown endpoint; answers a FailNext fault; answers 429 while
// RateLimitUntil is in force; answers 401 unless the OAuth header carries
// Options.ConsumerKey (app-only endpoints check their bearer token instead);
// then serves the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ver, ep := s.route(r)

	s.mu.Lock()
	s.requests++
	s.mu.Unlock()

	if ep == nil {
		writeError(w, ver, http.StatusNotFound, 34, "Sorry, that page does not exist.")
		return
	}
	if s.fault(w, ver) {
		return
	}
	if s.isBearerEndpoint(r) { // app-only endpoints check their own credentials (activity.go)
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		ep(w, r, "")
		return
	}
	params, err := parseOAuth(r)
	if err != nil || params["oauth_consumer_key"] != s.opts.ConsumerKey {
		writeError(w, ver, http.StatusUnauthorized, 32, "Could not authenticate you.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	ep(w, r, params["oauth_token"])
}

// route maps a request to its API version and endpoint; the endpoint is nil
// when the Server does not serve that method and path.
func (s *Server) route(r *http.Request) (apiVersion, endpoint) {
	p := r.URL.Path
	ver := v2
	if strings.HasPrefix(p, "/1.1/") {
		ver = v11
	}
	if ep, _ := s.activityRoute(r); ep != nil { // Account Activity set-up (activity.go)
		return ver, ep
	}
	if ep := s.timelineRoute(r); ep != nil { // a user's own posts (timeline.go)
		return ver, ep
	}
	if r.Method == http.MethodGet {
		// GET /2/dm_conversations/with/{participant_id}/dm_events
		if rest, ok := strings.CutPrefix(p, "/2/dm_conversations/with/"); ok {
			if id, ok := strings.CutSuffix(rest, "/dm_events"); ok && id != "" && !strings.Contains(id, "/") {
				return ver, func(w http.ResponseWriter, r *http.Request, token string) {
					s.listDMEventsV2(w, r, token, id)
				}
			}
		}
		return ver, nil
	}
	if r.Method != http.MethodPost {
		return ver, nil
	}
	switch p {
	case "/2/tweets":
		return ver, s.createTweetV2
	case "/1.1/statuses/update.json":
		return ver, s.updateStatusV11
	case "/1.1/direct_messages/events/new.json":
		return ver, s.newDMEventV11
	}
	if rest, ok := strings.CutPrefix(p, "/2/dm_conversations/with/"); ok {
		if id, ok := strings.CutSuffix(rest, "/messages"); ok && id != "" && !strings.Contains(id, "/") {
			return ver, func(w http.ResponseWriter, r *http.Request, token string) {
				s.sendDMV2(w, r, token, id)
			}
		}
	}
	return ver, nil
}

// writeJSON answers status with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	// The status line is already sent; an encoding failure here can only be
	// a broken connection, which the client will notice.
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers an error in the wire format of ver: the v2 problem
// format, or v1.1's {"errors":[{"code":..,"message":..}]} using code.
func writeError(w http.ResponseWriter, ver apiVersion, status, code int, message string) {
	if ver == v11 {
		writeJSON(w, status, "application/json; charset=utf-8", map[string]any{
			"errors": []map[string]any{{"code": code, "message": message}},
		})
		return
	}
	writeJSON(w, status, "application/problem+json", problem(status, message))
}

// problem builds a v2 problem document.
func problem(status int, detail string) map[string]any {
	return map[string]any{
		"title":  http.StatusText(status),
		"detail": detail,
		"type":   "about:blank",
		"status": status,
	}
}

// userIDFromToken returns the user id X embeds in an access token
// ("<user id>-<random>"), or "" when the token does not have that shape.
func userIDFromToken(token string) string {
	id, _, ok := strings.Cut(token, "-")
	if !ok || !isDigits(id) {
		return ""
	}
	return id
}

// isDigits reports whether s is a non-empty string of ASCII digits, the shape
// of every X id.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
