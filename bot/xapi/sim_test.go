package xapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/xapi"
	"github.com/hashcart/hashcart/xsim"
)

// testClock is an injected clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// newSim starts the simulator behind an httptest server.
func newSim(t *testing.T) (*xsim.Server, *httptest.Server, *testClock) {
	t.Helper()
	clock := &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	sim := xsim.New(xsim.Options{ConsumerKey: testCreds.ConsumerKey, ConsumerSecret: testCreds.ConsumerSecret, Now: clock.Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv, clock
}

func TestClientsAgainstSimulatorFaults(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		t.Run("v"+version, func(t *testing.T) {
			ctx := context.Background()
			sim, srv, clock := newSim(t)
			c, err := xapi.New(version, srv.URL, srv.Client())
			if err != nil {
				t.Fatal(err)
			}

			// 429 until the limit resets, with the reset time surfaced.
			until := clock.Now().Add(90*time.Second + 500*time.Millisecond)
			sim.RateLimitUntil(until)
			_, err = c.PostReply(ctx, testCreds, "1790000000000000001", "thanks!")
			retryAt, limited := xapi.RateLimited(err)
			if !limited || !retryAt.Equal(until.Truncate(time.Second).Add(time.Second)) {
				t.Fatalf("RateLimited(%v) = %v, %v; want %v, true", err, retryAt, limited, until)
			}
			if !xapi.IsRetryable(err) {
				t.Error("429 not retryable")
			}
			clock.Set(retryAt)
			if _, err := c.PostReply(ctx, testCreds, "1790000000000000001", "thanks!"); err != nil {
				t.Fatalf("after the reset: %v", err)
			}

			// 500 once, then fine.
			sim.FailNext(1, http.StatusInternalServerError)
			_, err = c.SendDM(ctx, testCreds, "42", "pay here")
			var ae *xapi.APIError
			if !errors.As(err, &ae) || ae.Status != 500 || !xapi.IsRetryable(err) {
				t.Fatalf("FailNext 500: err = %v, want retryable APIError 500", err)
			}
			if _, err := c.SendDM(ctx, testCreds, "42", "pay here"); err != nil {
				t.Fatalf("after the failure: %v", err)
			}

			// Closed DMs are ErrDMClosed and final.
			sim.CloseDMs("43", true)
			_, err = c.SendDM(ctx, testCreds, "43", "pay here")
			if !errors.Is(err, xapi.ErrDMClosed) || xapi.IsRetryable(err) {
				t.Fatalf("closed DMs: err = %v, want non-retryable ErrDMClosed", err)
			}

			if got := len(sim.Posts()); got != 1 {
				t.Errorf("posts recorded = %d, want 1", got)
			}
			if got := len(sim.DMs()); got != 1 {
				t.Errorf("dms recorded = %d, want 1", got)
			}
		})
	}
}

func TestCancelledContextSendsNothing(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		sim, srv, _ := newSim(t)
		c, _ := xapi.New(version, srv.URL, srv.Client())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.SendDM(ctx, testCreds, "42", "pay here")
		if !errors.Is(err, context.Canceled) || xapi.IsRetryable(err) {
			t.Errorf("v%s: err = %v, want non-retryable context.Canceled", version, err)
		}
		if n := sim.Requests(); n != 0 {
			t.Errorf("v%s: simulator saw %d requests, want 0", version, n)
		}
	}
}

func TestCancellingAbortsARequestInFlight(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		t.Run("v"+version, func(t *testing.T) {
			arrived, release := make(chan struct{}), make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body) // the server notices a closed connection only once the body is read
				close(arrived)
				select { // hold the answer until the client gives up
				case <-r.Context().Done():
				case <-release:
				}
			}))
			defer srv.Close()
			defer close(release)
			c, _ := xapi.New(version, srv.URL, srv.Client())
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := c.PostReply(ctx, testCreds, "1", "hi")
				errc <- err
			}()
			<-arrived
			cancel()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("err = %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second): // a guard against hanging, not a wait for logic
				t.Fatal("request not aborted by cancellation")
			}
		})
	}
}

func TestCredentialsNeverPrintSecrets(t *testing.T) {
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("send", "creds", testCreds)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("send", "creds", testCreds)
	out := fmt.Sprintf("%v %+v %#v %s", testCreds, testCreds, testCreds, testCreds) + logs.String()
	for _, secret := range []string{testCreds.ConsumerSecret, testCreds.AccessSecret} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q printed in %s", secret, out)
		}
	}
	if !strings.Contains(out, testCreds.AccessToken) {
		t.Errorf("access token missing from %s; it identifies the merchant", out)
	}
}
