package stripepay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/stripe/stripe-go/v85"
)

// CustomerStore remembers the Stripe Customer made for each buyer, so a
// buyer has one Customer (and their saved methods stay with it).
type CustomerStore interface {
	// CustomerRef returns the buyer's Customer id ("cus_..."); "" with a
	// nil error, or an error wrapping commerce.ErrNotFound, when the buyer
	// has none yet.
	CustomerRef(ctx context.Context, buyerID string) (string, error)
	// SetCustomerRef records the buyer's Customer id.
	SetCustomerRef(ctx context.Context, buyerID, ref string) error
}

// Provider is the Stripe payment provider; it implements
// commerce.PaymentProvider. Build it with New. It is safe for concurrent
// use as long as Customers is.
type Provider struct {
	// Client talks to the Stripe API at the configured base URL.
	Client *stripe.Client
	// WebhookSecret is the endpoint's signing secret ("whsec_...").
	WebhookSecret string
	// Now is the clock: session expiry and the signature tolerance use it.
	Now func() time.Time
	// Customers keeps each buyer's Customer id.
	Customers CustomerStore
}

// Options are New's optional settings.
type Options struct {
	// WebhookSecret is payments.stripe.webhook_secret ("whsec_...").
	WebhookSecret string
	// Customers is required: it keeps each buyer's Customer id.
	Customers CustomerStore
	// Now defaults to time.Now.
	Now func() time.Time
	// HTTPClient defaults to a client with a 30 s timeout. Tests set one
	// whose transport records requests.
	HTTPClient *http.Client
	// MaxNetworkRetries is how often stripe-go retries a failed request
	// (with the same idempotency key); 0 means stripe-go's default.
	MaxNetworkRetries int64
}

// New returns a Provider whose every request (API, Connect, uploads and
// meter events alike) goes to baseURL, an absolute http(s) URL such as
// "https://api.stripe.com" or "http://127.0.0.1:12111" (stripe-mock).
// stripe-go's own logging is off: errors are returned, and the caller logs
// them. An empty API key or a base URL that is not absolute is an error
// wrapping commerce.ErrInvalid.
func New(apiKey, baseURL string, o Options) (*Provider, error) {
	if apiKey == "" {
		return nil, fmt.Errorf("stripe: no api key: %w", commerce.ErrInvalid)
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("stripe: api base url %q is not an absolute http(s) url: %w", baseURL, commerce.ErrInvalid)
	}
	if o.Customers == nil {
		return nil, fmt.Errorf("stripe: no customer store: %w", commerce.ErrInvalid)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	cfg := &stripe.BackendConfig{
		URL:             stripe.String(baseURL),
		HTTPClient:      o.HTTPClient,
		LeveledLogger:   &stripe.LeveledLogger{Level: stripe.LevelNull},
		EnableTelemetry: stripe.Bool(false),
	}
	if o.MaxNetworkRetries > 0 {
		cfg.MaxNetworkRetries = stripe.Int64(o.MaxNetworkRetries)
	}
	client := stripe.NewClient(apiKey, stripe.WithBackends(stripe.NewBackendsWithConfig(cfg)))
	return &Provider{Client: client, WebhookSecret: o.WebhookSecret, Now: o.Now, Customers: o.Customers}, nil
}

// Name is the provider's config name, "stripe".
func (p *Provider) Name() string { return "stripe" }

// Refund refunds a PaymentIntent ("pi_...") for amount, under the
// idempotency key, so a retried refund is made once.
func (p *Provider) Refund(ctx context.Context, paymentRef string, amount commerce.Money, key string) error {
	if paymentRef == "" || amount.Amount <= 0 {
		return fmt.Errorf("stripe refund %q: payment and a positive amount are required: %w", paymentRef, commerce.ErrInvalid)
	}
	params := &stripe.RefundCreateParams{
		PaymentIntent: stripe.String(paymentRef),
		Amount:        stripe.Int64(amount.Amount),
	}
	if key != "" {
		params.SetIdempotencyKey(key)
	}
	if _, err := p.Client.V1Refunds.Create(ctx, params); err != nil {
		return fmt.Errorf("stripe refund %s: %w", paymentRef, err)
	}
	return nil
}

// customer returns the buyer's Customer id, creating the Customer (with
// the buyer id in its metadata) and recording it the first time. The
// creation's idempotency key is the buyer id, so two first purchases at
// once make one Customer.
func (p *Provider) customer(ctx context.Context, buyerID string) (string, error) {
	if buyerID == "" {
		return "", fmt.Errorf("stripe customer: no buyer: %w", commerce.ErrInvalid)
	}
	ref, err := p.Customers.CustomerRef(ctx, buyerID)
	switch {
	case err == nil && ref != "":
		return ref, nil
	case err != nil && !errors.Is(err, commerce.ErrNotFound):
		return "", fmt.Errorf("stripe customer: %w", err)
	}
	params := &stripe.CustomerCreateParams{}
	params.AddMetadata("buyer_id", buyerID)
	params.SetIdempotencyKey("customer:" + buyerID)
	c, err := p.Client.V1Customers.Create(ctx, params)
	if err != nil {
		return "", fmt.Errorf("stripe create customer: %w", err)
	}
	if err := p.Customers.SetCustomerRef(ctx, buyerID, c.ID); err != nil {
		return "", fmt.Errorf("stripe customer: record %s: %w", c.ID, err)
	}
	return c.ID, nil
}
