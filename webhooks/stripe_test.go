package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/commerce/stripepay"
	"github.com/hashcart/hashcart/commerce/stripepay/stripemock"
	"github.com/stripe/stripe-go/v85/webhook"
)

var stripeNow = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

const stripeTestSecret = "whsec_webhooks_test"

// paidOnce is a fake of commerce's ApplyPayment: it records every call and
// marks an order paid once per event id, like the real store.
type paidOnce struct {
	mu       sync.Mutex
	calls    []commerce.PaymentOutcome
	seen     map[string]bool
	paid     map[int64]int // times each order was marked paid
	released []int64
	err      error
}

func (p *paidOnce) apply(_ context.Context, o commerce.PaymentOutcome) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, o)
	if p.err != nil {
		return p.err
	}
	if p.seen[o.EventID] {
		return nil // duplicate
	}
	p.seen[o.EventID] = true
	if o.Paid {
		p.paid[o.OrderID]++
	}
	return nil
}

func (p *paidOnce) release(_ context.Context, orderID int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.released = append(p.released, orderID)
	return p.err
}

type stripeFixture struct {
	app   *fiber.App
	store *paidOnce
	logs  *bytes.Buffer
}

// newStripeFixture mounts the webhook with a provider talking to baseURL.
func newStripeFixture(t *testing.T, baseURL string) *stripeFixture {
	t.Helper()
	f := &stripeFixture{store: &paidOnce{seen: map[string]bool{}, paid: map[int64]int{}}, logs: &bytes.Buffer{}}
	prov, err := stripepay.New("sk_test_123", baseURL, stripepay.Options{
		WebhookSecret: stripeTestSecret,
		Customers:     noCustomers{},
		Now:           func() time.Time { return stripeNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.app = NewApp(1<<20, log)
	(&StripeWebhook{Provider: prov, Apply: f.store.apply, Release: f.store.release, Log: log}).Mount(f.app)
	return f
}

type noCustomers struct{}

func (noCustomers) CustomerRef(context.Context, string) (string, error) {
	return "", commerce.ErrNotFound
}
func (noCustomers) SetCustomerRef(context.Context, string, string) error { return nil }

func (f *stripeFixture) deliver(t *testing.T, body []byte, sig string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(StripeSignatureHeader, sig)
	}
	resp, err := f.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

func stripeEvent(t *testing.T, id, typ string, save bool) []byte {
	t.Helper()
	meta := map[string]string{"order_id": "42"}
	if save {
		meta["save_method"] = "true"
	}
	session := map[string]any{
		"id": "cs_test_1", "object": "checkout.session", "client_reference_id": "HC-000042",
		"customer": "cus_123", "payment_intent": "pi_123", "payment_status": "paid", "metadata": meta,
	}
	if typ == "checkout.session.expired" {
		session["payment_status"], session["payment_intent"] = "unpaid", nil
	}
	b, err := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "api_version": "2025-03-31.basil", "data": map[string]any{"object": session}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func stripeSign(body []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
}

// Against stripe-mock: the buyer asked to keep the card, so every delivery
// also fetches the method from the API.
func TestStripeCompletedDeliveredFiveTimesPaysOnce(t *testing.T) {
	f := newStripeFixture(t, stripemock.Start(t))
	body := stripeEvent(t, "evt_paid", "checkout.session.completed", true)
	sig := stripeSign(body, stripeTestSecret, stripeNow)
	for i := 0; i < 5; i++ {
		if code := f.deliver(t, body, sig); code != http.StatusOK {
			t.Fatalf("delivery %d: status %d, want 200; logs:\n%s", i+1, code, f.logs)
		}
	}
	if n := len(f.store.calls); n != 5 {
		t.Fatalf("Apply called %d times, want every delivery (5)", n)
	}
	for _, o := range f.store.calls {
		if o.EventID != "evt_paid" || o.OrderID != 42 || !o.Paid || o.PaymentRef != "pi_123" || o.Method == nil || o.Method.Provider != "stripe" {
			t.Fatalf("Apply got %+v (method %+v)", o, o.Method)
		}
	}
	if got := f.store.paid[42]; got != 1 {
		t.Fatalf("order marked paid %d times, want once", got)
	}
}

func TestStripeWebhookAnswers(t *testing.T) {
	completed := stripeEvent(t, "evt_paid", "checkout.session.completed", false)
	expired := stripeEvent(t, "evt_exp", "checkout.session.expired", false)
	other, _ := json.Marshal(map[string]any{"id": "evt_x", "object": "event", "type": "customer.created", "data": map[string]any{"object": map[string]any{"id": "cus_1"}}})
	tampered := bytes.Replace(completed, []byte(`"pi_123"`), []byte(`"pi_999"`), 1)
	cases := []struct {
		name     string
		body     []byte
		sig      string
		storeErr error
		status   int
		applied  int
		released int
	}{
		{"signed completed event", completed, stripeSign(completed, stripeTestSecret, stripeNow), nil, 200, 1, 0},
		{"no signature", completed, "", nil, 400, 0, 0},
		{"tampered body", tampered, stripeSign(completed, stripeTestSecret, stripeNow), nil, 400, 0, 0},
		{"another secret", completed, stripeSign(completed, "whsec_other", stripeNow), nil, 400, 0, 0},
		{"signed 301 s ago", completed, stripeSign(completed, stripeTestSecret, stripeNow.Add(-301*time.Second)), nil, 400, 0, 0},
		{"signed 300 s ago", completed, stripeSign(completed, stripeTestSecret, stripeNow.Add(-300*time.Second)), nil, 200, 1, 0},
		{"signed garbage", []byte("{"), stripeSign([]byte("{"), stripeTestSecret, stripeNow), nil, 400, 0, 0},
		{"apply fails", completed, stripeSign(completed, stripeTestSecret, stripeNow), errors.New("db down"), 500, 1, 0},
		{"expired session", expired, stripeSign(expired, stripeTestSecret, stripeNow), nil, 200, 0, 1},
		{"release fails", expired, stripeSign(expired, stripeTestSecret, stripeNow), errors.New("db down"), 500, 0, 1},
		{"ignored event type", other, stripeSign(other, stripeTestSecret, stripeNow), nil, 200, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newStripeFixture(t, "http://127.0.0.1:1") // no API call expected
			f.store.err = tc.storeErr
			if code := f.deliver(t, tc.body, tc.sig); code != tc.status {
				t.Fatalf("status %d, want %d; logs:\n%s", code, tc.status, f.logs)
			}
			if len(f.store.calls) != tc.applied || len(f.store.released) != tc.released {
				t.Fatalf("applied %d, released %d; want %d, %d", len(f.store.calls), len(f.store.released), tc.applied, tc.released)
			}
			if tc.released == 1 && f.store.released[0] != 42 {
				t.Fatalf("released order %d, want 42", f.store.released[0])
			}
			if strings.Contains(f.logs.String(), stripeTestSecret) {
				t.Fatal("the webhook secret was logged")
			}
		})
	}
}
