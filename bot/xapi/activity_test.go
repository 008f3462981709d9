package xapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashcart/hashcart/bot/xapi"
	"github.com/hashcart/hashcart/xsim"
)

// crcReceiver answers CRC challenges with the given secret (changeable).
type crcReceiver struct {
	mu     sync.Mutex
	secret string
	crcs   atomic.Int32
}

func (c *crcReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.crcs.Add(1)
	c.mu.Lock()
	secret := c.secret
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"response_token": xsim.CRCResponse(secret, r.URL.Query().Get("crc_token"))})
}

func (c *crcReceiver) setSecret(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secret = s
}

func newActivity(t *testing.T, version, base string) *xapi.Activity {
	t.Helper()
	a, err := xapi.NewActivity(xapi.ActivityConfig{
		Version: version, BaseURL: base, Environment: "prod",
		ConsumerKey: testCreds.ConsumerKey, ConsumerSecret: testCreds.ConsumerSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestActivityClientSetsUpWebhookAndSubscriptionsAgainstSimulator(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		t.Run(version, func(t *testing.T) {
			sim, srv, _ := newSim(t)
			recv := &crcReceiver{secret: testCreds.ConsumerSecret}
			hook := httptest.NewServer(recv)
			defer hook.Close()
			ctx := context.Background()
			a := newActivity(t, version, srv.URL)

			w, err := a.Register(ctx, testCreds, hook.URL+"/webhooks/x")
			if err != nil {
				t.Fatal(err)
			}
			if w.ID == "" || w.URL != hook.URL+"/webhooks/x" || !w.Valid || w.CreatedAt.IsZero() || recv.crcs.Load() != 1 {
				t.Fatalf("registered %+v after %d CRCs", w, recv.crcs.Load())
			}
			list, err := a.Webhooks(ctx)
			if err != nil || len(list) != 1 || list[0] != w {
				t.Fatalf("webhooks %+v, %v; want [%+v]", list, err, w)
			}
			for range 2 { // subscribing twice is not an error
				if err := a.Subscribe(ctx, w.ID, testCreds); err != nil {
					t.Fatal(err)
				}
			}
			subs, err := a.Subscriptions(ctx, w.ID)
			if err != nil || len(subs) != 1 || subs[0] != "1111" {
				t.Fatalf("subscriptions %v, %v; want [1111]", subs, err)
			}

			recv.setSecret("stale-secret")
			err = a.Validate(ctx, testCreds, w.ID)
			var ae *xapi.APIError
			if !errors.Is(err, xapi.ErrWebhookInvalid) || !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "CRC") {
				t.Fatalf("validate with a wrong answer: %v", err)
			}
			recv.setSecret(testCreds.ConsumerSecret)
			if err := a.Validate(ctx, testCreds, w.ID); err != nil {
				t.Fatalf("validate with the right answer: %v", err)
			}

			if err := a.Unsubscribe(ctx, w.ID, "1111"); err != nil {
				t.Fatal(err)
			}
			if subs, _ := a.Subscriptions(ctx, w.ID); len(subs) != 0 {
				t.Fatalf("subscriptions after unsubscribe: %v", subs)
			}
			if err := a.Delete(ctx, testCreds, w.ID); err != nil {
				t.Fatal(err)
			}
			if len(sim.Webhooks()) != 0 {
				t.Fatalf("webhooks after delete: %+v", sim.Webhooks())
			}
		})
	}
}

func TestActivityRegisterReportsXsReasonWhenTheCRCFails(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		t.Run(version, func(t *testing.T) {
			_, srv, _ := newSim(t)
			hook := httptest.NewServer(&crcReceiver{secret: "another-app"})
			defer hook.Close()
			_, err := newActivity(t, version, srv.URL).Register(context.Background(), testCreds, hook.URL)
			var ae *xapi.APIError
			if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "Invalid CRC token") {
				t.Fatalf("register: %v", err)
			}
		})
	}
}

// The app-only calls carry the bearer token from /oauth2/token (asked for
// once), the user-context calls an OAuth 1.0a signature with the user's token.
func TestActivityAuthenticatesEachCallAsXDocuments(t *testing.T) {
	type seen struct{ method, path, auth string }
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if strings.Contains(r.Header.Get("Authorization"), `oauth_token="1111-merchant-token"`) {
			auth += "(1111)"
		}
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, auth})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/oauth2/token":
			w.Write([]byte(`{"token_type":"bearer","access_token":"AAAA-app"}`))
		case "/2/webhooks":
			w.Write([]byte(`{"data":[]}`))
		case "/2/account_activity/webhooks/7/subscriptions/all":
			w.Write([]byte(`{"data":{"subscribed":true}}`))
		default:
			w.Write([]byte(`{"data":{"subscribed":false}}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	a := newActivity(t, "2", srv.URL)
	if _, err := a.Webhooks(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Subscribe(ctx, "7", testCreds); err != nil {
		t.Fatal(err)
	}
	if err := a.Unsubscribe(ctx, "7", "1111"); err != nil {
		t.Fatal(err)
	}
	want := []seen{
		{"POST", "/oauth2/token", "Basic"},
		{"GET", "/2/webhooks", "Bearer"},
		{"POST", "/2/account_activity/webhooks/7/subscriptions/all", "OAuth(1111)"},
		{"DELETE", "/2/account_activity/webhooks/7/subscriptions/1111/all", "Bearer"},
	}
	if len(got) != len(want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestNewActivityRefusesIncompleteConfigurations(t *testing.T) {
	cases := []struct {
		name string
		cfg  xapi.ActivityConfig
	}{
		{"v1.1 without environment", xapi.ActivityConfig{Version: "1.1", BaseURL: "https://api.x.com", ConsumerKey: "k", ConsumerSecret: "s"}},
		{"no consumer key", xapi.ActivityConfig{Version: "2", BaseURL: "https://api.x.com", ConsumerSecret: "s"}},
		{"unknown version", xapi.ActivityConfig{Version: "3", BaseURL: "https://api.x.com", ConsumerKey: "k", ConsumerSecret: "s"}},
		{"relative base url", xapi.ActivityConfig{Version: "2", BaseURL: "api.x.com", ConsumerKey: "k", ConsumerSecret: "s"}},
	}
	for _, tc := range cases {
		if _, err := xapi.NewActivity(tc.cfg); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
