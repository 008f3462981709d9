package xapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ActivityConfig is what an Activity client needs to set up X's Account
// Activity API for one X app.
type ActivityConfig struct {
	// Version is "2" (the v2 webhooks and account_activity endpoints) or
	// "1.1" (account_activity/all/{Environment}).
	Version string
	// BaseURL is the API root, as for New.
	BaseURL string
	// ConsumerKey and ConsumerSecret identify the app. The app-only calls
	// are made with a bearer token obtained from them (POST /oauth2/token).
	ConsumerKey, ConsumerSecret string
	// Environment is the Account Activity dev environment label; required
	// for "1.1", unused for "2".
	Environment string
	// HTTPClient carries the requests (http.DefaultClient's settings when nil).
	HTTPClient *http.Client
}

// Webhook is a webhook URL registered with X for the app.
type Webhook struct {
	// ID is X's id of the webhook configuration.
	ID string
	// URL is where X sends CRC challenges and deliveries.
	URL string
	// Valid is false after the URL failed a CRC challenge; X delivers
	// nothing to an invalid webhook until a re-check (Validate) passes.
	Valid bool
	// CreatedAt is when it was registered; zero when X sent no readable time.
	CreatedAt time.Time
}

// ErrWebhookInvalid is matched (errors.Is) by the error of Validate when X
// reached the URL but the CRC answer was wrong or missing.
var ErrWebhookInvalid = errors.New("webhook failed the CRC challenge")

// Activity registers the app's webhook with X's Account Activity API and
// subscribes accounts to it, through v2 or v1.1. Calls X documents as
// app-only use a bearer token (fetched once from the consumer key and secret
// and reused); calls in user context are OAuth 1.0a-signed with the
// Credentials passed. Errors from X are *APIError. Safe for concurrent use.
type Activity struct {
	cfg  ActivityConfig
	base string

	mu     sync.Mutex
	bearer string
}

// NewActivity returns an Activity client for cfg. It fails for an unknown
// version, an invalid base URL, a missing consumer key or secret, or a v1.1
// configuration without an environment.
func NewActivity(cfg ActivityConfig) (*Activity, error) {
	if _, err := parseBase(cfg.BaseURL); err != nil {
		return nil, err
	}
	switch cfg.Version {
	case "2":
	case "1.1":
		if cfg.Environment == "" {
			return nil, errors.New("x api 1.1 account activity needs an environment name")
		}
	default:
		return nil, fmt.Errorf("x api version %q: want \"2\" or \"1.1\"", cfg.Version)
	}
	if cfg.ConsumerKey == "" || cfg.ConsumerSecret == "" {
		return nil, errors.New("account activity needs the app's consumer key and secret")
	}
	return &Activity{cfg: cfg, base: strings.TrimSuffix(cfg.BaseURL, "/")}, nil
}

// envPath is the v1.1 path prefix of the configured environment.
func (a *Activity) envPath() string {
	return "/1.1/account_activity/all/" + url.PathEscape(a.cfg.Environment)
}

// Register asks X to register callbackURL; X first sends a CRC challenge to
// it and refuses the registration when the answer is wrong (an *APIError
// whose message is X's reason). owner signs the v1.1 call (X wants user
// context there); v2 uses the app's bearer token and ignores owner.
func (a *Activity) Register(ctx context.Context, owner Credentials, callbackURL string) (Webhook, error) {
	if callbackURL == "" {
		return Webhook{}, errors.New("register webhook: empty url")
	}
	if a.cfg.Version == "2" {
		var resp struct {
			Data webhookJSON `json:"data"`
			webhookJSON
		}
		body := struct {
			URL string `json:"url"`
		}{callbackURL}
		if err := a.call(ctx, http.MethodPost, "/2/webhooks", nil, body, a.app, &resp); err != nil {
			return Webhook{}, fmt.Errorf("register webhook: %w", err)
		}
		// X's reference shows the config at the top level; accept it
		// wrapped in "data" too, as its other v2 answers are.
		w := resp.webhookJSON
		if resp.Data.ID != "" {
			w = resp.Data
		}
		if w.ID == "" {
			return Webhook{}, errors.New("register webhook: answer without webhook id")
		}
		return w.webhook(), nil
	}
	var w webhookJSON
	q := url.Values{"url": {callbackURL}}
	if err := a.call(ctx, http.MethodPost, a.envPath()+"/webhooks.json", q, nil, a.user(owner), &w); err != nil {
		return Webhook{}, fmt.Errorf("register webhook: %w", err)
	}
	if w.ID == "" {
		return Webhook{}, errors.New("register webhook: answer without webhook id")
	}
	return w.webhook(), nil
}

// Webhooks lists the app's registered webhooks (v1.1: those of the
// environment), oldest first as X lists them.
func (a *Activity) Webhooks(ctx context.Context) ([]Webhook, error) {
	var list []webhookJSON
	if a.cfg.Version == "2" {
		var resp struct {
			Data []webhookJSON `json:"data"`
		}
		if err := a.call(ctx, http.MethodGet, "/2/webhooks", nil, nil, a.app, &resp); err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		list = resp.Data
	} else if err := a.call(ctx, http.MethodGet, a.envPath()+"/webhooks.json", nil, nil, a.app, &list); err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out := make([]Webhook, 0, len(list))
	for _, w := range list {
		out = append(out, w.webhook())
	}
	return out, nil
}

// Validate makes X send a new CRC challenge to webhook id (and mark it valid
// again if the answer is right). A wrong answer gives an error matching
// ErrWebhookInvalid and wrapping X's refusal. owner signs the v1.1 call.
func (a *Activity) Validate(ctx context.Context, owner Credentials, id string) error {
	if id == "" {
		return errors.New("validate webhook: empty webhook id")
	}
	var err error
	if a.cfg.Version == "2" {
		var resp struct {
			Data struct {
				Attempted bool  `json:"attempted"`
				Valid     *bool `json:"valid"`
			} `json:"data"`
		}
		err = a.call(ctx, http.MethodPut, "/2/webhooks/"+url.PathEscape(id), nil, nil, a.app, &resp)
		if err == nil && resp.Data.Valid != nil && !*resp.Data.Valid {
			return fmt.Errorf("validate webhook %s: %w", id, ErrWebhookInvalid)
		}
	} else {
		err = a.call(ctx, http.MethodPut, a.envPath()+"/webhooks/"+url.PathEscape(id)+".json", nil, nil, a.user(owner), nil)
	}
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && isCRCFailure(ae) {
			return fmt.Errorf("validate webhook %s: %w", id, errors.Join(ErrWebhookInvalid, err))
		}
		return fmt.Errorf("validate webhook %s: %w", id, err)
	}
	return nil
}

// isCRCFailure reports whether X refused because the URL failed the CRC
// check (v2 reason CrcValidationFailed, v1.1 code 214 about the CRC).
func isCRCFailure(ae *APIError) bool {
	m := strings.ToLower(ae.Message)
	return strings.Contains(m, "crc")
}

// Delete removes webhook id; X stops delivering to it. owner signs the v1.1
// call.
func (a *Activity) Delete(ctx context.Context, owner Credentials, id string) error {
	if id == "" {
		return errors.New("delete webhook: empty webhook id")
	}
	var err error
	if a.cfg.Version == "2" {
		err = a.call(ctx, http.MethodDelete, "/2/webhooks/"+url.PathEscape(id), nil, nil, a.app, nil)
	} else {
		err = a.call(ctx, http.MethodDelete, a.envPath()+"/webhooks/"+url.PathEscape(id)+".json", nil, nil, a.user(owner), nil)
	}
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// Subscribe subscribes the account whose Credentials are passed to the
// webhook's events (v1.1: to the environment's; webhookID is unused). The
// call is made in that account's user context, as X requires. Subscribing an
// account that already is subscribed succeeds.
func (a *Activity) Subscribe(ctx context.Context, webhookID string, user Credentials) error {
	if a.cfg.Version == "2" {
		if webhookID == "" {
			return errors.New("subscribe: empty webhook id")
		}
		var resp struct {
			Data struct {
				Subscribed bool `json:"subscribed"`
			} `json:"data"`
		}
		path := "/2/account_activity/webhooks/" + url.PathEscape(webhookID) + "/subscriptions/all"
		if err := a.call(ctx, http.MethodPost, path, nil, struct{}{}, a.user(user), &resp); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		if !resp.Data.Subscribed {
			return errors.New("subscribe: x answered subscribed=false")
		}
		return nil
	}
	err := a.call(ctx, http.MethodPost, a.envPath()+"/subscriptions.json", nil, nil, a.user(user), nil)
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == 355 { // "Subscription already exists."
		return nil
	}
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	return nil
}

// Subscriptions returns the user ids subscribed to the webhook (v1.1: to the
// environment; webhookID is unused).
func (a *Activity) Subscriptions(ctx context.Context, webhookID string) ([]string, error) {
	type sub struct {
		UserID string `json:"user_id"`
	}
	var subs []sub
	if a.cfg.Version == "2" {
		if webhookID == "" {
			return nil, errors.New("list subscriptions: empty webhook id")
		}
		var resp struct {
			Data struct {
				Subscriptions []sub `json:"subscriptions"`
			} `json:"data"`
		}
		path := "/2/account_activity/webhooks/" + url.PathEscape(webhookID) + "/subscriptions/all/list"
		if err := a.call(ctx, http.MethodGet, path, nil, nil, a.app, &resp); err != nil {
			return nil, fmt.Errorf("list subscriptions: %w", err)
		}
		subs = resp.Data.Subscriptions
	} else {
		var resp struct {
			Subscriptions []sub `json:"subscriptions"`
		}
		if err := a.call(ctx, http.MethodGet, a.envPath()+"/subscriptions/list.json", nil, nil, a.app, &resp); err != nil {
			return nil, fmt.Errorf("list subscriptions: %w", err)
		}
		subs = resp.Subscriptions
	}
	out := make([]string, 0, len(subs))
	for _, s := range subs {
		out = append(out, s.UserID)
	}
	return out, nil
}

// Unsubscribe ends userID's subscription to the webhook (v1.1: to the
// environment; webhookID is unused). It is an app-only call.
func (a *Activity) Unsubscribe(ctx context.Context, webhookID, userID string) error {
	if userID == "" {
		return errors.New("unsubscribe: empty user id")
	}
	var err error
	if a.cfg.Version == "2" {
		if webhookID == "" {
			return errors.New("unsubscribe: empty webhook id")
		}
		path := "/2/account_activity/webhooks/" + url.PathEscape(webhookID) + "/subscriptions/" + url.PathEscape(userID) + "/all"
		err = a.call(ctx, http.MethodDelete, path, nil, nil, a.app, nil)
	} else {
		err = a.call(ctx, http.MethodDelete, a.envPath()+"/subscriptions/"+url.PathEscape(userID)+".json", nil, nil, a.app, nil)
	}
	if err != nil {
		return fmt.Errorf("unsubscribe %s: %w", userID, err)
	}
	return nil
}

// webhookJSON is a webhook as v2 (created_at, RFC 3339) and v1.1
// (created_timestamp, "2006-01-02 15:04:05 -0700") describe it.
type webhookJSON struct {
	ID               string `json:"id"`
	URL              string `json:"url"`
	Valid            bool   `json:"valid"`
	CreatedAt        string `json:"created_at"`
	CreatedTimestamp string `json:"created_timestamp"`
}

func (w webhookJSON) webhook() Webhook {
	out := Webhook{ID: w.ID, URL: w.URL, Valid: w.Valid}
	if t, err := time.Parse(time.RFC3339, w.CreatedAt); err == nil {
		out.CreatedAt = t
	} else if t, err := time.Parse("2006-01-02 15:04:05 -0700", w.CreatedTimestamp); err == nil {
		out.CreatedAt = t
	}
	return out
}

// authorizer sends req authenticated one way or another.
type authorizer func(ctx context.Context, req *http.Request) (*http.Response, error)

// user returns an authorizer that signs with creds (OAuth 1.0a user context).
func (a *Activity) user(creds Credentials) authorizer {
	return func(_ context.Context, req *http.Request) (*http.Response, error) {
		if creds.ConsumerKey == "" {
			creds.ConsumerKey, creds.ConsumerSecret = a.cfg.ConsumerKey, a.cfg.ConsumerSecret
		}
		if creds.AccessToken == "" {
			return nil, errors.New("user context call without an access token")
		}
		return signingClient(a.cfg.HTTPClient, creds, nil).Do(req)
	}
}

// app sends req with the app's bearer token (app-only auth).
func (a *Activity) app(ctx context.Context, req *http.Request) (*http.Response, error) {
	token, err := a.bearerToken(ctx)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return a.httpClient().Do(req)
}

func (a *Activity) httpClient() *http.Client {
	if a.cfg.HTTPClient != nil {
		return a.cfg.HTTPClient
	}
	return http.DefaultClient
}

// bearerToken returns the app's bearer token, asking X for it once
// (POST /oauth2/token, grant_type=client_credentials, HTTP Basic with the
// URL-encoded consumer key and secret, as X documents application-only auth).
func (a *Activity) bearerToken(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bearer != "" {
		return a.bearer, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/oauth2/token",
		strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return "", fmt.Errorf("build token request: %w", err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(a.cfg.ConsumerKey) + ":" + url.QueryEscape(a.cfg.ConsumerSecret)))
	req.Header.Set("Authorization", "Basic "+basic)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	var resp struct {
		TokenType   string `json:"token_type"`
		AccessToken string `json:"access_token"`
	}
	if err := a.do(req, func(_ context.Context, r *http.Request) (*http.Response, error) {
		return a.httpClient().Do(r)
	}, &resp); err != nil {
		return "", fmt.Errorf("get app bearer token: %w", err)
	}
	if !strings.EqualFold(resp.TokenType, "bearer") || resp.AccessToken == "" {
		return "", fmt.Errorf("get app bearer token: answer has token_type %q and no usable token", resp.TokenType)
	}
	a.bearer = resp.AccessToken
	return a.bearer, nil
}

// call sends method path?query with body as JSON (none when nil),
// authenticated by auth, and decodes a 2xx answer with a body into out
// (ignored when nil).
func (a *Activity) call(ctx context.Context, method, path string, query url.Values, body any, auth authorizer, out any) error {
	target := a.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		payload, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return a.do(req, auth, out)
}

// do sends req through auth and decodes the answer: non-2xx becomes an
// *APIError with X's message; a 2xx body is decoded into out when both exist.
func (a *Activity) do(req *http.Request, auth authorizer, out any) error {
	resp, err := auth(req.Context(), req)
	if err != nil {
		return err // *url.Error or our own; never carries the Authorization header
	}
	return readV2Answer(resp, out, false)
}
