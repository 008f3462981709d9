package xsim_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashcart/hashcart/xsim"
)

// crcHook is a webhook receiver whose CRC answers the test controls.
type crcHook struct {
	srv *httptest.Server
	// answer builds the response_token for a crc_token; status is the HTTP
	// status of CRC answers.
	mu        sync.Mutex
	secret    string
	status    int
	crcs      atomic.Int32
	delivered atomic.Int32
}

func newCRCHook(t *testing.T, secret string) *crcHook {
	t.Helper()
	h := &crcHook{secret: secret, status: http.StatusOK}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if r.Header.Get(xsim.SignatureHeader) != "" {
				h.delivered.Add(1)
			}
			return
		}
		h.crcs.Add(1)
		h.mu.Lock()
		secret, status := h.secret, h.status
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"response_token": xsim.CRCResponse(secret, r.URL.Query().Get("crc_token"))})
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *crcHook) set(secret string, status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.secret, h.status = secret, status
}

// bearer gets the app's bearer token from the simulator.
func bearer(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	a := do(t, srv, http.MethodPost, "/oauth2/token", basicAuth(consumerKey, consumerSecret), "grant_type=client_credentials")
	if a.status != 200 || a.body["token_type"] != "bearer" || a.body["access_token"] == "" {
		t.Fatalf("token: %d %v", a.status, a.body)
	}
	return "Bearer " + a.body["access_token"].(string)
}

func basicAuth(key, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(key)+":"+url.QueryEscape(secret)))
}

// do makes a raw request; body is form-encoded when it contains "=" and
// does not start with "{", JSON otherwise. The answer body may be empty or
// a JSON array (kept under "list").
func do(t *testing.T, srv *httptest.Server, method, path, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		ct := "application/json"
		if !strings.HasPrefix(body, "{") {
			ct = "application/x-www-form-urlencoded"
		}
		req.Header.Set("Content-Type", ct)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: map[string]any{}}
	switch {
	case len(raw) == 0:
	case raw[0] == '[':
		var list []any
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatalf("%s %s: %q: %v", method, path, raw, err)
		}
		a.body["list"] = list
	default:
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("%s %s: answer %q is not JSON: %v", method, path, raw, err)
		}
	}
	return a
}

// registerPath returns how to register callback through version.
func register(t *testing.T, srv *httptest.Server, version, callback string) answer {
	t.Helper()
	if version == "2" {
		b, _ := json.Marshal(map[string]string{"url": callback})
		return do(t, srv, http.MethodPost, "/2/webhooks", bearer(t, srv), string(b))
	}
	return do(t, srv, http.MethodPost, "/1.1/account_activity/all/prod/webhooks.json?url="+url.QueryEscape(callback),
		oauthHeader(consumerKey, merchantToken), "")
}

func TestWebhookRegisteredOnlyAfterItsURLAnswersTheCRC(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		t.Run(version, func(t *testing.T) {
			sim, srv, clock := start(t)
			hook := newCRCHook(t, consumerSecret)
			a := register(t, srv, version, hook.srv.URL+"/webhooks/x")
			if a.status != 200 || a.body["id"] == nil || a.body["valid"] != true || a.body["url"] != hook.srv.URL+"/webhooks/x" {
				t.Fatalf("register: %d %v", a.status, a.body)
			}
			if hook.crcs.Load() != 1 {
				t.Fatalf("the URL got %d CRC challenges, want 1", hook.crcs.Load())
			}
			hooks := sim.Webhooks()
			if len(hooks) != 1 || !hooks[0].Valid || hooks[0].CRCs != 1 || !hooks[0].LastCRC.Equal(clock.Now()) || hooks[0].Version != version {
				t.Fatalf("webhooks after registration: %+v", hooks)
			}
			if version == "1.1" && hooks[0].Environment != "prod" {
				t.Errorf("environment %q, want prod", hooks[0].Environment)
			}
		})
	}
}

func TestWebhookRefusedWhenTheCRCAnswerIsWrong(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(h *crcHook) string // returns the callback URL
		v11Want string
	}{
		{"answer signed with another secret", func(h *crcHook) string {
			h.set("not-the-consumer-secret", 200)
			return h.srv.URL + "/webhooks/x"
		}, "Invalid CRC token or json response format."},
		{"non-200 answer", func(h *crcHook) string {
			h.set(consumerSecret, 404)
			return h.srv.URL + "/webhooks/x"
		}, "Non-200 response code during CRC GET request (i.e. 404, 500, etc)."},
		{"nothing listening", func(h *crcHook) string {
			return "http://127.0.0.1:1/webhooks/x"
		}, "Unable to connect during CRC GET request."},
	}
	for _, version := range []string{"2", "1.1"} {
		for _, tc := range cases {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				sim, srv, _ := start(t)
				hook := newCRCHook(t, consumerSecret)
				a := register(t, srv, version, tc.setup(hook))
				if a.status != 400 {
					t.Fatalf("status %d, want 400: %v", a.status, a.body)
				}
				if version == "2" {
					errs, _ := a.body["errors"].([]any)
					detail, _ := a.body["detail"].(string)
					if len(errs) != 1 || errs[0].(map[string]any)["message"] != "CrcValidationFailed" || !strings.Contains(detail, tc.v11Want) {
						t.Errorf("v2 refusal %v, want CrcValidationFailed and %q", a.body, tc.v11Want)
					}
				} else if code, msg := a.v11Error(t); code != 214 || msg != tc.v11Want {
					t.Errorf("v1.1 refusal %d %q, want 214 %q", code, msg, tc.v11Want)
				}
				if len(sim.Webhooks()) != 0 {
					t.Errorf("a refused webhook was stored: %+v", sim.Webhooks())
				}
			})
		}
	}
}

func TestAppOnlyEndpointsWantTheBearerToken(t *testing.T) {
	_, srv, _ := start(t)
	if a := do(t, srv, http.MethodPost, "/oauth2/token", basicAuth(consumerKey, "wrong"), "grant_type=client_credentials"); a.status != 403 {
		t.Errorf("token with a wrong secret: %d %v", a.status, a.body)
	}
	cases := []struct {
		name, method, path string
	}{
		{"v2 list webhooks", http.MethodGet, "/2/webhooks"},
		{"v2 create webhook", http.MethodPost, "/2/webhooks"},
		{"v2 list subscriptions", http.MethodGet, "/2/account_activity/webhooks/1/subscriptions/all/list"},
		{"v1.1 list webhooks", http.MethodGet, "/1.1/account_activity/all/prod/webhooks.json"},
		{"v1.1 list subscriptions", http.MethodGet, "/1.1/account_activity/all/prod/subscriptions/list.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if a := do(t, srv, tc.method, tc.path, oauthHeader(consumerKey, merchantToken), ""); a.status != 403 {
				t.Errorf("user context: %d %v, want 403", a.status, a.body)
			}
			if a := do(t, srv, tc.method, tc.path, "Bearer forged", ""); a.status != 401 {
				t.Errorf("forged bearer: %d %v, want 401", a.status, a.body)
			}
			if a := do(t, srv, tc.method, tc.path, bearer(t, srv), ""); a.status == 401 || a.status == 403 {
				t.Errorf("issued bearer refused: %d %v", a.status, a.body)
			}
		})
	}
}

func TestSubscriptionsFollowSubscribeAndUnsubscribe(t *testing.T) {
	const user = "1111" // merchantToken is "1111-merchant-token"
	for _, version := range []string{"2", "1.1"} {
		t.Run(version, func(t *testing.T) {
			sim, srv, _ := start(t)
			hook := newCRCHook(t, consumerSecret)
			id, _ := register(t, srv, version, hook.srv.URL).body["id"].(string)
			subPath := "/2/account_activity/webhooks/" + id + "/subscriptions/all"
			listPath := subPath + "/list"
			unsubPath := "/2/account_activity/webhooks/" + id + "/subscriptions/" + user + "/all"
			if version == "1.1" {
				subPath = "/1.1/account_activity/all/prod/subscriptions.json"
				listPath = "/1.1/account_activity/all/prod/subscriptions/list.json"
				unsubPath = "/1.1/account_activity/all/prod/subscriptions/" + user + ".json"
			}
			body := ""
			if version == "2" {
				body = "{}"
			}
			a := do(t, srv, http.MethodPost, subPath, oauthHeader(consumerKey, merchantToken), body)
			if (version == "2" && (a.status != 200 || a.body["data"].(map[string]any)["subscribed"] != true)) || (version == "1.1" && a.status != 204) {
				t.Fatalf("subscribe: %d %v", a.status, a.body)
			}
			again := do(t, srv, http.MethodPost, subPath, oauthHeader(consumerKey, merchantToken), body)
			if version == "1.1" {
				if code, _ := again.v11Error(t); again.status != 409 || code != 355 {
					t.Errorf("second v1.1 subscribe: %d %v, want 409 code 355", again.status, again.body)
				}
			}
			if got := sim.Webhooks()[0].Subscribers; len(got) != 1 || got[0] != user {
				t.Fatalf("subscribers %v, want [%s]", got, user)
			}
			a = do(t, srv, http.MethodGet, listPath, bearer(t, srv), "")
			subs := a.body["subscriptions"]
			if version == "2" {
				subs = a.body["data"].(map[string]any)["subscriptions"]
			}
			if list, _ := subs.([]any); a.status != 200 || len(list) != 1 || list[0].(map[string]any)["user_id"] != user {
				t.Fatalf("list: %d %v", a.status, a.body)
			}
			if a := do(t, srv, http.MethodDelete, unsubPath, bearer(t, srv), ""); a.status/100 != 2 {
				t.Fatalf("unsubscribe: %d %v", a.status, a.body)
			}
			if got := sim.Webhooks()[0].Subscribers; len(got) != 0 {
				t.Fatalf("subscribers after unsubscribe: %v", got)
			}
		})
	}
}

func TestRevalidationMarksTheWebhookInvalidUntilTheCRCIsRightAgain(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		t.Run(version, func(t *testing.T) {
			sim, srv, _ := start(t)
			hook := newCRCHook(t, consumerSecret)
			id, _ := register(t, srv, version, hook.srv.URL).body["id"].(string)
			put := func() answer {
				if version == "2" {
					return do(t, srv, http.MethodPut, "/2/webhooks/"+id, bearer(t, srv), "")
				}
				return do(t, srv, http.MethodPut, "/1.1/account_activity/all/prod/webhooks/"+id+".json", oauthHeader(consumerKey, merchantToken), "")
			}
			hook.set("rotated-secret", 200)
			if a := put(); a.status != 400 {
				t.Fatalf("re-check with a wrong answer: %d %v", a.status, a.body)
			}
			if w := sim.Webhooks()[0]; w.Valid || w.CRCs != 1 {
				t.Fatalf("after a failed re-check: %+v", w)
			}
			hook.set(consumerSecret, 200)
			if a := put(); a.status/100 != 2 {
				t.Fatalf("re-check with the right answer: %d %v", a.status, a.body)
			}
			if w := sim.Webhooks()[0]; !w.Valid || w.CRCs != 2 {
				t.Fatalf("after a passed re-check: %+v", w)
			}
			if hook.crcs.Load() != 3 {
				t.Errorf("the URL got %d challenges, want 3", hook.crcs.Load())
			}
		})
	}
}

func TestDeliverToSubscribersSkipsOtherUsersAndDeletedWebhooks(t *testing.T) {
	sim, srv, _ := start(t)
	hook := newCRCHook(t, consumerSecret)
	id, _ := register(t, srv, "2", hook.srv.URL).body["id"].(string)
	do(t, srv, http.MethodPost, "/2/account_activity/webhooks/"+id+"/subscriptions/all", oauthHeader(consumerKey, merchantToken), "{}")
	ctx := context.Background()
	payload := xsim.Favorite("1111", "fav-1", "42", "1790000000000000001")
	if n, err := sim.DeliverToSubscribers(ctx, "1111", payload); n != 1 || err != nil {
		t.Fatalf("deliver to the subscriber: %d, %v", n, err)
	}
	if n, err := sim.DeliverToSubscribers(ctx, "2222", payload); n != 0 || err != nil {
		t.Fatalf("deliver to a stranger: %d, %v", n, err)
	}
	if a := do(t, srv, http.MethodDelete, "/2/webhooks/"+id, bearer(t, srv), ""); a.status != 200 {
		t.Fatalf("delete: %d %v", a.status, a.body)
	}
	if n, _ := sim.DeliverToSubscribers(ctx, "1111", payload); n != 0 {
		t.Fatalf("delivered %d after the webhook was deleted", n)
	}
	if got := hook.delivered.Load(); got != 1 {
		t.Errorf("the hook received %d signed deliveries, want 1", got)
	}
}
