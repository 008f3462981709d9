package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// MerchantEndpoint is where and how a merchant receives its orders.
type MerchantEndpoint struct {
	URL    string
	Secret string
}

// Handoff POSTs paid orders to their merchants' order_webhook as JSON,
// signed with Hashcart-Signature and named by Hashcart-Delivery-Id (for
// the merchant's idempotency), retrying anything but a 2xx with
// exponential backoff (10 s doubling, at most an hour apart) for up to 3
// days.
type Handoff struct {
	Store  commerce.HandoffStore
	Orders interface {
		Order(ctx context.Context, id int64) (commerce.Order, error)
	}
	// Endpoint returns a merchant's order_webhook, false when it has none.
	Endpoint func(merchantID string) (MerchantEndpoint, bool)
	Client   *http.Client
	Now      func() time.Time
	Log      *slog.Logger
	// MaxAge is how long a delivery is retried (3 days).
	MaxAge time.Duration
	// Lease is how long a claimed delivery is kept from other instances
	// (1 minute); a crashed instance's deliveries are retried after it.
	Lease time.Duration
}

// Name implements Job.
func (j *Handoff) Name() string { return "merchant_handoff" }

// Run implements Job: it sends every due delivery once and returns how
// many were delivered.
func (j *Handoff) Run(ctx context.Context) (int, error) {
	maxAge := j.MaxAge
	if maxAge <= 0 {
		maxAge = 72 * time.Hour
	}
	lease := j.Lease
	if lease <= 0 {
		lease = time.Minute
	}
	delivered := 0
	for ctx.Err() == nil {
		claimedAt := j.Now().UTC()
		due, err := j.Store.ClaimDeliveries(ctx, claimedAt, 20, lease)
		if err != nil || len(due) == 0 {
			return delivered, err
		}
		// Records are written even when ctx ends (shutdown): a delivery
		// made must be recorded, and one not attempted is given back.
		bg := context.WithoutCancel(ctx)
		for i, d := range due {
			if ctx.Err() != nil {
				// Stopping: give the rest back, for whichever instance
				// runs next.
				return delivered, j.release(bg, due[i:])
			}
			if j.Now().UTC().After(claimedAt.Add(lease / 2)) {
				// The lease is running out: another instance may claim the
				// rest soon, and sending them now could deliver them twice.
				// Give them back and claim afresh.
				if err := j.release(bg, due[i:]); err != nil {
					return delivered, err
				}
				break
			}
			sendErr := j.send(ctx, d)
			now := j.Now().UTC()
			if sendErr == nil {
				delivered++
				if err := j.Store.FinishDelivery(bg, d.ID, true, false, now, "", now); err != nil {
					return delivered, err
				}
				continue
			}
			if ctx.Err() != nil {
				// Cut short by shutdown, not the merchant's failure.
				return delivered, j.release(bg, due[i:])
			}
			dead := now.Sub(d.CreatedAt) >= maxAge
			wait := min(10*time.Second<<min(d.Attempts, 12), time.Hour)
			wait -= rand.N(wait / 4)
			if dead {
				j.Log.Error("merchant hand-off given up after 3 days", "merchant", d.MerchantID, "delivery", d.DeliveryID, "attempts", d.Attempts+1, "err", sendErr)
			} else {
				j.Log.Warn("merchant hand-off failed, will retry", "merchant", d.MerchantID, "delivery", d.DeliveryID, "attempt", d.Attempts+1, "retry_in", wait, "err", sendErr)
			}
			if err := j.Store.FinishDelivery(bg, d.ID, false, dead, now.Add(wait), sendErr.Error(), now); err != nil {
				return delivered, err
			}
		}
	}
	return delivered, nil
}

func (j *Handoff) release(ctx context.Context, ds []commerce.Delivery) error {
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return j.Store.ReleaseDeliveries(ctx, ids)
}

func (j *Handoff) send(ctx context.Context, d commerce.Delivery) error {
	ep, ok := j.Endpoint(d.MerchantID)
	if !ok {
		return fmt.Errorf("merchant %q has no order_webhook", d.MerchantID)
	}
	o, err := j.Orders.Order(ctx, d.OrderID)
	if err != nil {
		return fmt.Errorf("read order: %w", err)
	}
	body, err := json.Marshal(commerce.NewHandoffOrder(d.DeliveryID, o))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hashcart")
	req.Header.Set("Hashcart-Delivery-Id", d.DeliveryID)
	req.Header.Set("Hashcart-Signature", commerce.SignDelivery(ep.Secret, j.Now(), body))
	resp, err := j.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("merchant answered %d", resp.StatusCode)
	}
	return nil
}
