package xsim

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhook is a webhook URL registered through the Server's Account Activity
// endpoints, with the accounts subscribed to it.
type Webhook struct {
	// ID is the webhook id the Server answered with.
	ID string
	// URL is the callback URL; every CRC challenge went there.
	URL string
	// Version is the API it was registered through: "2" or "1.1".
	Version string
	// Environment is the v1.1 environment label; "" for v2.
	Environment string
	// Valid is true while its last CRC challenge was answered correctly.
	Valid bool
	// CreatedAt is the Server's clock at registration.
	CreatedAt time.Time
	// CRCs counts the challenges the URL answered correctly; LastCRC is the
	// Server's clock at the last of them.
	CRCs    int
	LastCRC time.Time
	// Subscribers are the user ids subscribed to it (v1.1: to its
	// environment), in the order they subscribed.
	Subscribers []string
}

// crcTimeout is how long the Server waits for a CRC answer; X wants one in
// less than 3 seconds.
const crcTimeout = 3 * time.Second

// activityState is the Server's Account Activity data, guarded by Server.mu.
type activityState struct {
	// bearer is the app-only token handed out by POST /oauth2/token ("" until
	// the first request); like X, the Server hands out the same one each time.
	bearer string
	hooks  []*Webhook
	// envSubs are the v1.1 subscriptions, per environment.
	envSubs map[string][]string
}

// Webhooks returns a copy of the registered webhooks, oldest first.
func (s *Server) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Webhook, 0, len(s.activity.hooks))
	for _, h := range s.activity.hooks {
		out = append(out, s.webhookLocked(h))
	}
	return out
}

// webhookLocked returns a copy of h with its subscribers; s.mu must be held.
func (s *Server) webhookLocked(h *Webhook) Webhook {
	c := *h
	if h.Version == string(v11) {
		c.Subscribers = slices.Clone(s.activity.envSubs[h.Environment])
	} else {
		c.Subscribers = slices.Clone(h.Subscribers)
	}
	return c
}

// DeliverToSubscribers sends payload, as Deliver does, to every valid webhook
// the user userID is subscribed to, and returns how many answered 2xx. The
// error joins every failed delivery (network error or non-2xx answer); a
// user with no subscription gets nothing and no error.
func (s *Server) DeliverToSubscribers(ctx context.Context, userID string, payload any) (int, error) {
	var urls []string
	for _, h := range s.Webhooks() {
		if h.Valid && slices.Contains(h.Subscribers, userID) {
			urls = append(urls, h.URL)
		}
	}
	delivered := 0
	var errs []error
	for _, u := range urls {
		resp, err := s.Deliver(ctx, u, payload)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			errs = append(errs, fmt.Errorf("deliver to %s: status %d", u, resp.StatusCode))
			continue
		}
		delivered++
	}
	return delivered, errors.Join(errs...)
}

// resetActivityLocked forgets every webhook, subscription and bearer token;
// s.mu must be held.
func (s *Server) resetActivityLocked() {
	s.activity = activityState{}
}

// activityRoute maps the Account Activity and app-auth endpoints. bearer
// reports an endpoint that authenticates the request itself (a bearer token,
// or HTTP Basic for /oauth2/token) instead of with OAuth 1.0a.
func (s *Server) activityRoute(r *http.Request) (ep endpoint, bearer bool) {
	p, m := r.URL.Path, r.Method
	switch {
	case p == "/oauth2/token" && m == http.MethodPost:
		return func(w http.ResponseWriter, r *http.Request, _ string) { s.oauth2Token(w, r) }, true
	case p == "/2/webhooks":
		switch m {
		case http.MethodPost:
			return s.app(v2, s.createWebhookV2), true
		case http.MethodGet:
			return s.app(v2, s.listWebhooksV2), true
		}
	case strings.HasPrefix(p, "/2/webhooks/"):
		id := strings.TrimPrefix(p, "/2/webhooks/")
		if id == "" || strings.Contains(id, "/") {
			return nil, false
		}
		switch m {
		case http.MethodPut:
			return s.app(v2, func(w http.ResponseWriter, r *http.Request) { s.validateWebhook(w, r, v2, "", id) }), true
		case http.MethodDelete:
			return s.app(v2, func(w http.ResponseWriter, r *http.Request) { s.deleteWebhook(w, v2, "", id) }), true
		}
	case strings.HasPrefix(p, "/2/account_activity/webhooks/"):
		return s.subscriptionRouteV2(m, strings.Split(strings.TrimPrefix(p, "/2/account_activity/webhooks/"), "/"))
	case strings.HasPrefix(p, "/1.1/account_activity/all/"):
		return s.activityRouteV11(m, strings.Split(strings.TrimPrefix(p, "/1.1/account_activity/all/"), "/"))
	}
	return nil, false
}

// subscriptionRouteV2 maps /2/account_activity/webhooks/{seg...}.
func (s *Server) subscriptionRouteV2(m string, seg []string) (endpoint, bool) {
	if len(seg) < 3 || seg[0] == "" || seg[1] != "subscriptions" {
		return nil, false
	}
	id := seg[0]
	switch {
	case len(seg) == 3 && seg[2] == "all" && m == http.MethodPost:
		return func(w http.ResponseWriter, r *http.Request, token string) { s.subscribe(w, v2, "", id, token) }, false
	case len(seg) == 3 && seg[2] == "all" && m == http.MethodGet:
		return func(w http.ResponseWriter, r *http.Request, token string) { s.checkSubscription(w, v2, "", id, token) }, false
	case len(seg) == 4 && seg[2] == "all" && seg[3] == "list" && m == http.MethodGet:
		return s.app(v2, func(w http.ResponseWriter, r *http.Request) { s.listSubscriptions(w, v2, "", id) }), true
	case len(seg) == 4 && seg[3] == "all" && m == http.MethodDelete && seg[2] != "":
		user := seg[2]
		return s.app(v2, func(w http.ResponseWriter, r *http.Request) { s.unsubscribe(w, v2, "", id, user) }), true
	}
	return nil, false
}

// activityRouteV11 maps /1.1/account_activity/all/{seg...}.
func (s *Server) activityRouteV11(m string, seg []string) (endpoint, bool) {
	if len(seg) == 1 && seg[0] == "webhooks.json" && m == http.MethodGet {
		return s.app(v11, func(w http.ResponseWriter, r *http.Request) { s.listWebhooksV11(w, "") }), true
	}
	if len(seg) < 2 || seg[0] == "" {
		return nil, false
	}
	env := seg[0]
	switch {
	case len(seg) == 2 && seg[1] == "webhooks.json" && m == http.MethodPost:
		return func(w http.ResponseWriter, r *http.Request, _ string) { s.createWebhookV11(w, r, env) }, false
	case len(seg) == 2 && seg[1] == "webhooks.json" && m == http.MethodGet:
		return s.app(v11, func(w http.ResponseWriter, r *http.Request) { s.listWebhooksV11(w, env) }), true
	case len(seg) == 3 && seg[1] == "webhooks" && strings.HasSuffix(seg[2], ".json"):
		id := strings.TrimSuffix(seg[2], ".json")
		switch m {
		case http.MethodPut:
			return func(w http.ResponseWriter, r *http.Request, _ string) { s.validateWebhook(w, r, v11, env, id) }, false
		case http.MethodDelete:
			return func(w http.ResponseWriter, r *http.Request, _ string) { s.deleteWebhook(w, v11, env, id) }, false
		}
	case len(seg) == 2 && seg[1] == "subscriptions.json":
		switch m {
		case http.MethodPost:
			return func(w http.ResponseWriter, r *http.Request, token string) { s.subscribe(w, v11, env, "", token) }, false
		case http.MethodGet:
			return func(w http.ResponseWriter, r *http.Request, token string) {
				s.checkSubscription(w, v11, env, "", token)
			}, false
		}
	case len(seg) == 3 && seg[1] == "subscriptions" && seg[2] == "list.json" && m == http.MethodGet:
		return s.app(v11, func(w http.ResponseWriter, r *http.Request) { s.listSubscriptions(w, v11, env, "") }), true
	case len(seg) == 3 && seg[1] == "subscriptions" && strings.HasSuffix(seg[2], ".json") && m == http.MethodDelete:
		user := strings.TrimSuffix(seg[2], ".json")
		return s.app(v11, func(w http.ResponseWriter, r *http.Request) { s.unsubscribe(w, v11, env, "", user) }), true
	}
	return nil, false
}

// isBearerEndpoint reports whether r is for an endpoint that authenticates
// itself (app-only bearer token or HTTP Basic), so ServeHTTP must not demand
// OAuth 1.0a for it.
func (s *Server) isBearerEndpoint(r *http.Request) bool {
	_, bearer := s.activityRoute(r)
	return bearer
}

// app wraps an app-only endpoint: it serves h only for a request carrying
// the bearer token the Server handed out, and refuses user-context (OAuth
// 1.0a) requests as X does.
func (s *Server) app(ver apiVersion, h func(http.ResponseWriter, *http.Request)) endpoint {
	return func(w http.ResponseWriter, r *http.Request, _ string) {
		auth := strings.TrimSpace(r.Header.Get("Authorization"))
		scheme, tok, _ := strings.Cut(auth, " ")
		s.mu.Lock()
		issued := s.activity.bearer
		s.mu.Unlock()
		switch {
		case strings.EqualFold(scheme, "Bearer") && issued != "" && strings.TrimSpace(tok) == issued:
			h(w, r)
		case strings.EqualFold(scheme, "OAuth"):
			if ver == v11 {
				writeError(w, ver, http.StatusForbidden, 220, "Your credentials do not allow access to this resource.")
				return
			}
			p := problem(http.StatusForbidden, "Authenticating with OAuth 1.0a User Context is forbidden for this endpoint.  Supported authentication types are [OAuth 2.0 Application-Only].")
			p["title"] = "Unsupported Authentication"
			p["type"] = "https://api.twitter.com/2/problems/unsupported-authentication"
			writeJSON(w, http.StatusForbidden, "application/problem+json", p)
		default:
			writeError(w, ver, http.StatusUnauthorized, 89, "Invalid or expired token.")
		}
	}
}

// oauth2Token serves POST /oauth2/token (grant_type=client_credentials, HTTP
// Basic with the URL-encoded consumer key and secret) and answers the app's
// bearer token.
func (s *Server) oauth2Token(w http.ResponseWriter, r *http.Request) {
	refuse := func() {
		writeJSON(w, http.StatusForbidden, "application/json; charset=utf-8", map[string]any{
			"errors": []map[string]any{{"code": 99, "label": "authenticity_token_error", "message": "Unable to verify your credentials"}},
		})
	}
	scheme, enc, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if !strings.EqualFold(scheme, "Basic") || err != nil {
		refuse()
		return
	}
	k, sec, ok := strings.Cut(string(raw), ":")
	key, err1 := url.QueryUnescape(k)
	secret, err2 := url.QueryUnescape(sec)
	if !ok || err1 != nil || err2 != nil || key != s.opts.ConsumerKey || secret != s.opts.ConsumerSecret || s.opts.ConsumerKey == "" {
		refuse()
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusForbidden, "application/json; charset=utf-8", map[string]any{
			"errors": []map[string]any{{"code": 170, "label": "forbidden_missing_parameter", "message": "Missing required parameter: grant_type"}},
		})
		return
	}
	s.mu.Lock()
	if s.activity.bearer == "" {
		s.activity.bearer = strings.Repeat("A", 22) + randomHex(24)
	}
	token := s.activity.bearer
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"token_type": "bearer", "access_token": token})
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// webhookProblem answers a v2 refusal naming X's reason (CrcValidationFailed,
// UrlValidationFailed, DuplicateUrlFailed, WebhookIdInvalid...) both in the
// errors array and at the start of the detail.
func webhookProblem(w http.ResponseWriter, status int, reason, detail string) {
	p := problem(status, reason+": "+detail)
	p["title"] = "Invalid Request"
	p["type"] = "https://api.twitter.com/2/problems/invalid-request"
	p["errors"] = []map[string]any{{"message": reason}}
	writeJSON(w, status, "application/problem+json", p)
}

// crcFailure is why a URL failed a CRC challenge: v1.1 wording.
type crcFailure struct{ msg string }

func (e *crcFailure) Error() string { return e.msg }

// crcCheck sends a CRC challenge to callback as X does (GET
// callback?crc_token=...) and checks the answer: 200 with a JSON
// response_token equal to CRCResponse(ConsumerSecret, token).
func (s *Server) crcCheck(ctx context.Context, callback string) error {
	ctx, cancel := context.WithTimeout(ctx, crcTimeout)
	defer cancel()
	u, err := url.Parse(callback)
	if err != nil {
		return &crcFailure{"Webhook URL does not meet the requirements."}
	}
	token := randomHex(16)
	q := u.Query()
	q.Set("crc_token", token)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return &crcFailure{"Webhook URL does not meet the requirements."}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &crcFailure{"High latency on CRC GET request. Your webhook should respond in less than 3 seconds."}
		}
		return &crcFailure{"Unable to connect during CRC GET request."}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &crcFailure{"Non-200 response code during CRC GET request (i.e. 404, 500, etc)."}
	}
	var body struct {
		ResponseToken string `json:"response_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil || body.ResponseToken != CRCResponse(s.opts.ConsumerSecret, token) {
		return &crcFailure{"Invalid CRC token or json response format."}
	}
	return nil
}

// validCallback reports whether raw is an absolute http(s) URL of at most
// 200 characters. X also demands https and no port; the simulator cannot, as
// its callers listen on local ports over plain HTTP.
func validCallback(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && len(raw) <= 200 && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// register runs the CRC check and stores a webhook; it returns the stored
// copy, or a reason and detail for the refusal.
func (s *Server) register(ctx context.Context, ver apiVersion, env, callback string) (Webhook, string, error) {
	if !validCallback(callback) {
		return Webhook{}, "UrlValidationFailed", &crcFailure{"Webhook URL does not meet the requirements."}
	}
	s.mu.Lock()
	for _, h := range s.activity.hooks {
		if h.Version != string(ver) {
			continue
		}
		if ver == v11 && h.Environment == env {
			s.mu.Unlock()
			return Webhook{}, "WebhookLimitExceeded", &crcFailure{"Too many resources already created."}
		}
		if ver == v2 && h.URL == callback {
			s.mu.Unlock()
			return Webhook{}, "DuplicateUrlFailed", &crcFailure{"A webhook is already registered for this URL."}
		}
	}
	s.mu.Unlock()
	if err := s.crcCheck(ctx, callback); err != nil {
		return Webhook{}, "CrcValidationFailed", err
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &Webhook{
		ID: s.ids.next(now), URL: callback, Version: string(ver), Environment: env,
		Valid: true, CreatedAt: now, CRCs: 1, LastCRC: now,
	}
	s.activity.hooks = append(s.activity.hooks, h)
	return s.webhookLocked(h), "", nil
}

// findLocked returns the webhook with id registered through ver (and, for
// v1.1, in env); s.mu must be held.
func (s *Server) findLocked(ver apiVersion, env, id string) *Webhook {
	for _, h := range s.activity.hooks {
		if h.ID == id && h.Version == string(ver) && (ver == v2 || h.Environment == env) {
			return h
		}
	}
	return nil
}

// createWebhookV2 serves POST /2/webhooks {"url": ...}.
func (s *Server) createWebhookV2(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL string `json:"url"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.URL == "" {
		invalidRequest(w, "The `url` field is required.")
		return
	}
	h, reason, err := s.register(r.Context(), v2, "", req.URL)
	if err != nil {
		webhookProblem(w, http.StatusBadRequest, reason, err.Error())
		return
	}
	// X's reference shows the new config at the top level, not under "data".
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", webhookJSONV2(h))
}

func webhookJSONV2(h Webhook) map[string]any {
	return map[string]any{"id": h.ID, "url": h.URL, "valid": h.Valid, "created_at": h.CreatedAt.UTC().Format(time.RFC3339)}
}

func webhookJSONV11(h Webhook) map[string]any {
	return map[string]any{"id": h.ID, "url": h.URL, "valid": h.Valid, "created_timestamp": h.CreatedAt.UTC().Format("2006-01-02 15:04:05 -0700")}
}

// listWebhooksV2 serves GET /2/webhooks.
func (s *Server) listWebhooksV2(w http.ResponseWriter, _ *http.Request) {
	data := []map[string]any{}
	for _, h := range s.Webhooks() {
		if h.Version == string(v2) {
			data = append(data, webhookJSONV2(h))
		}
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"data": data, "meta": map[string]any{"result_count": len(data)},
	})
}

// createWebhookV11 serves POST /1.1/account_activity/all/{env}/webhooks.json?url=.
func (s *Server) createWebhookV11(w http.ResponseWriter, r *http.Request, env string) {
	callback := r.URL.Query().Get("url")
	if callback == "" {
		writeError(w, v11, http.StatusBadRequest, 214, "Webhook URL does not meet the requirements.")
		return
	}
	h, _, err := s.register(r.Context(), v11, env, callback)
	if err != nil {
		writeError(w, v11, http.StatusBadRequest, 214, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", webhookJSONV11(h))
}

// listWebhooksV11 serves GET /1.1/account_activity/all/webhooks.json (env
// "": every environment) and .../all/{env}/webhooks.json.
func (s *Server) listWebhooksV11(w http.ResponseWriter, env string) {
	byEnv := map[string][]map[string]any{}
	var envs []string
	for _, h := range s.Webhooks() {
		if h.Version != string(v11) {
			continue
		}
		if _, seen := byEnv[h.Environment]; !seen {
			envs = append(envs, h.Environment)
		}
		byEnv[h.Environment] = append(byEnv[h.Environment], webhookJSONV11(h))
	}
	if env != "" {
		list := byEnv[env]
		if list == nil {
			list = []map[string]any{}
		}
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", list)
		return
	}
	out := []map[string]any{}
	for _, e := range envs {
		out = append(out, map[string]any{"environment_name": e, "webhooks": byEnv[e]})
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"environments": out})
}

// validateWebhook serves PUT /2/webhooks/{id} and PUT
// /1.1/account_activity/all/{env}/webhooks/{id}.json: a new CRC challenge;
// the webhook is valid afterwards only if it was answered correctly.
func (s *Server) validateWebhook(w http.ResponseWriter, r *http.Request, ver apiVersion, env, id string) {
	s.mu.Lock()
	h := s.findLocked(ver, env, id)
	var callback string
	if h != nil {
		callback = h.URL
	}
	s.mu.Unlock()
	if h == nil {
		s.webhookNotFound(w, ver)
		return
	}
	err := s.crcCheck(r.Context(), callback)
	now := s.opts.Now()
	s.mu.Lock()
	if h := s.findLocked(ver, env, id); h != nil {
		h.Valid = err == nil
		if err == nil {
			h.CRCs++
			h.LastCRC = now
		}
	}
	s.mu.Unlock()
	switch {
	case err != nil && ver == v2:
		webhookProblem(w, http.StatusBadRequest, "CrcValidationFailed", err.Error())
	case err != nil:
		writeError(w, v11, http.StatusBadRequest, 214, err.Error())
	case ver == v2:
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"data": map[string]any{"attempted": true}})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// webhookNotFound answers an unknown webhook id.
func (s *Server) webhookNotFound(w http.ResponseWriter, ver apiVersion) {
	if ver == v2 {
		webhookProblem(w, http.StatusBadRequest, "WebhookIdInvalid", "The provided webhook_id was not found or is not associated with your app.")
		return
	}
	writeError(w, v11, http.StatusNotFound, 34, "Sorry, that page does not exist.")
}

// deleteWebhook serves DELETE /2/webhooks/{id} and DELETE
// /1.1/account_activity/all/{env}/webhooks/{id}.json. A v2 webhook's
// subscriptions go with it; v1.1 subscriptions belong to the environment.
func (s *Server) deleteWebhook(w http.ResponseWriter, ver apiVersion, env, id string) {
	s.mu.Lock()
	h := s.findLocked(ver, env, id)
	if h != nil {
		s.activity.hooks = slices.DeleteFunc(s.activity.hooks, func(x *Webhook) bool { return x == h })
	}
	s.mu.Unlock()
	switch {
	case h == nil:
		s.webhookNotFound(w, ver)
	case ver == v2:
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"data": map[string]any{"deleted": true}})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// subscribersLocked returns a pointer to the subscriber list of webhook id
// (v2) or environment env (v1.1), or nil for an unknown v2 webhook; s.mu
// must be held.
func (s *Server) subscribersLocked(ver apiVersion, env, id string) *[]string {
	if ver == v11 {
		if s.activity.envSubs == nil {
			s.activity.envSubs = make(map[string][]string)
		}
		subs := s.activity.envSubs[env]
		s.activity.envSubs[env] = subs
		return &subs
	}
	if h := s.findLocked(v2, "", id); h != nil {
		return &h.Subscribers
	}
	return nil
}

// setEnvSubsLocked stores a v1.1 environment's list back; s.mu must be held.
func (s *Server) setEnvSubsLocked(ver apiVersion, env string, subs *[]string) {
	if ver == v11 {
		s.activity.envSubs[env] = *subs
	}
}

// subscribe serves POST /2/account_activity/webhooks/{id}/subscriptions/all
// and POST /1.1/account_activity/all/{env}/subscriptions.json for the user
// whose access token signed the request.
func (s *Server) subscribe(w http.ResponseWriter, ver apiVersion, env, id, token string) {
	user := userIDFromToken(token)
	if user == "" {
		writeError(w, ver, http.StatusUnauthorized, 32, "Could not authenticate you.")
		return
	}
	s.mu.Lock()
	subs := s.subscribersLocked(ver, env, id)
	already := subs != nil && slices.Contains(*subs, user)
	if subs != nil && !already {
		*subs = append(*subs, user)
		s.setEnvSubsLocked(ver, env, subs)
	}
	s.mu.Unlock()
	switch {
	case subs == nil:
		s.webhookNotFound(w, ver)
	case ver == v2:
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"data": map[string]any{"subscribed": true}})
	case already:
		writeError(w, v11, http.StatusConflict, 355, "Subscription already exists.")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// checkSubscription serves GET .../subscriptions/all (v2) and GET
// .../{env}/subscriptions.json (v1.1) for the signing user.
func (s *Server) checkSubscription(w http.ResponseWriter, ver apiVersion, env, id, token string) {
	user := userIDFromToken(token)
	s.mu.Lock()
	subs := s.subscribersLocked(ver, env, id)
	found := subs != nil && user != "" && slices.Contains(*subs, user)
	s.mu.Unlock()
	switch {
	case subs == nil:
		s.webhookNotFound(w, ver)
	case ver == v2:
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"data": map[string]any{"subscribed": found}})
	case found:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, v11, http.StatusNotFound, 34, "Sorry, that page does not exist.")
	}
}

// listSubscriptions serves GET .../subscriptions/all/list (v2) and GET
// .../{env}/subscriptions/list.json (v1.1).
func (s *Server) listSubscriptions(w http.ResponseWriter, ver apiVersion, env, id string) {
	s.mu.Lock()
	subs := s.subscribersLocked(ver, env, id)
	var users []string
	var callback string
	if subs != nil {
		users = slices.Clone(*subs)
	}
	if h := s.findLocked(ver, env, id); h != nil {
		callback = h.URL
	}
	s.mu.Unlock()
	if subs == nil {
		s.webhookNotFound(w, ver)
		return
	}
	list := []map[string]any{}
	for _, u := range users {
		list = append(list, map[string]any{"user_id": u})
	}
	appID := s.appID()
	if ver == v2 {
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"data": map[string]any{
			"application_id": appID, "webhook_id": id, "webhook_url": callback, "subscriptions": list,
		}})
		return
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"environment": env, "application_id": appID, "subscriptions": list,
	})
}

// appID is the simulated app's numeric id, stable for a consumer key.
func (s *Server) appID() string {
	var n uint32 = 2166136261 // FNV-1a of the consumer key
	for i := 0; i < len(s.opts.ConsumerKey); i++ {
		n = (n ^ uint32(s.opts.ConsumerKey[i])) * 16777619
	}
	return fmt.Sprint(n)
}

// unsubscribe serves DELETE .../subscriptions/{user_id}/all (v2) and DELETE
// .../{env}/subscriptions/{user_id}.json (v1.1).
func (s *Server) unsubscribe(w http.ResponseWriter, ver apiVersion, env, id, user string) {
	s.mu.Lock()
	subs := s.subscribersLocked(ver, env, id)
	found := subs != nil && slices.Contains(*subs, user)
	if found {
		*subs = slices.DeleteFunc(*subs, func(u string) bool { return u == user })
		s.setEnvSubsLocked(ver, env, subs)
	}
	s.mu.Unlock()
	switch {
	case subs == nil:
		s.webhookNotFound(w, ver)
	case ver == v2:
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"data": map[string]any{"subscribed": false}})
	case !found:
		writeError(w, v11, http.StatusNotFound, 34, "Sorry, that page does not exist.")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
