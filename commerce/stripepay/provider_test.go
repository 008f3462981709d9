package stripepay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/commerce/stripepay/stripemock"
)

var testNow = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

const testSecret = "whsec_test_secret"

// memCustomers is an in-memory CustomerStore.
type memCustomers struct {
	mu   sync.Mutex
	refs map[string]string
}

func (m *memCustomers) CustomerRef(_ context.Context, buyerID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ref, ok := m.refs[buyerID]; ok {
		return ref, nil
	}
	return "", commerce.ErrNotFound
}

func (m *memCustomers) SetCustomerRef(_ context.Context, buyerID, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refs == nil {
		m.refs = map[string]string{}
	}
	m.refs[buyerID] = ref
	return nil
}

// sent is one request the provider made.
type sent struct {
	Method, Path   string
	IdempotencyKey string
	Form           url.Values
	Query          url.Values
}

// recorder is a RoundTripper that records each request before passing it on.
type recorder struct {
	mu   sync.Mutex
	reqs []sent
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	s := sent{Method: req.Method, Path: req.URL.Path, IdempotencyKey: req.Header.Get("Idempotency-Key"), Query: req.URL.Query()}
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(b))
		if s.Form, err = url.ParseQuery(string(b)); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, s)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) to(method, path string) []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sent
	for _, s := range r.reqs {
		if s.Method == method && s.Path == path {
			out = append(out, s)
		}
	}
	return out
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// newTestProvider returns a provider talking to baseURL through a recorder.
func newTestProvider(t *testing.T, baseURL string) (*Provider, *recorder, *memCustomers) {
	t.Helper()
	rec := &recorder{}
	cs := &memCustomers{}
	p, err := New("sk_test_123", baseURL, Options{
		WebhookSecret:     testSecret,
		Customers:         cs,
		Now:               func() time.Time { return testNow },
		HTTPClient:        &http.Client{Transport: rec, Timeout: 10 * time.Second},
		MaxNetworkRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, rec, cs
}

// withStripeMock starts stripe-mock and returns a provider pointed at it.
func withStripeMock(t *testing.T) (*Provider, *recorder, *memCustomers) {
	t.Helper()
	return newTestProvider(t, stripemock.Start(t))
}

// deadURL is where a provider that must make no request points.
const deadURL = "http://127.0.0.1:1"

func testRequest() commerce.PaymentRequest {
	return commerce.PaymentRequest{
		OrderID:     42,
		Reference:   "HC-000042",
		BuyerID:     "x-user-7",
		Amount:      commerce.Money{Amount: 2500, Currency: "USD"},
		Description: "1 × Ceramic mug",
		Email:       "ada@example.com",
		ReturnURL:   "https://shop.example/o/42/done",
		CancelURL:   "https://shop.example/c/abc",
		ExpiresAt:   testNow.Add(2 * time.Hour),
		SaveMethod:  true,
	}
}

func TestNewRefusesMissingKeyURLOrStore(t *testing.T) {
	cs := &memCustomers{}
	cases := []struct {
		name, key, url string
		store          CustomerStore
	}{
		{"no key", "", "http://127.0.0.1:12111", cs},
		{"no base url", "sk_test", "", cs},
		{"relative base url", "sk_test", "/v1", cs},
		{"not http", "sk_test", "ftp://127.0.0.1", cs},
		{"no store", "sk_test", "http://127.0.0.1:12111", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.key, tc.url, Options{Customers: tc.store}); !errors.Is(err, commerce.ErrInvalid) {
				t.Fatalf("New = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestRefundSendsPaymentIntentAmountAndKey(t *testing.T) {
	p, rec, _ := withStripeMock(t)
	err := p.Refund(context.Background(), "pi_123", commerce.Money{Amount: 2500, Currency: "USD"}, "refund:evt_1")
	if err != nil {
		t.Fatalf("Refund: %v", err)
	}
	reqs := rec.to("POST", "/v1/refunds")
	if len(reqs) != 1 {
		t.Fatalf("%d refund requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Form.Get("payment_intent") != "pi_123" || r.Form.Get("amount") != "2500" || r.IdempotencyKey != "refund:evt_1" {
		t.Fatalf("refund sent %v with key %q", r.Form, r.IdempotencyKey)
	}
}

func TestRefundRefusesEmptyPaymentWithoutRequest(t *testing.T) {
	p, rec, _ := newTestProvider(t, deadURL)
	if err := p.Refund(context.Background(), "", commerce.Money{Amount: 1, Currency: "USD"}, "k"); !errors.Is(err, commerce.ErrInvalid) {
		t.Fatalf("Refund = %v, want ErrInvalid", err)
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// hasPrefix is strings.HasPrefix, named for the assertions below.
func hasPrefix(s, p string) bool { return strings.HasPrefix(s, p) }
