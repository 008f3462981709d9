package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// Errors VerifyEvent returns; apart from a misconfigured Provider (Secret
// too short), the returned error wraps exactly one of them. A webhook answers ErrSignature with 401 and
// ErrMalformedEvent with 400.
var (
	// ErrSignature means the signature header is missing, malformed, does
	// not match the body, or is more than SignatureTolerance from now.
	ErrSignature = errors.New("invalid sandbox event signature")
	// ErrMalformedEvent means a correctly signed body is not an event the
	// sandbox sends.
	ErrMalformedEvent = errors.New("malformed sandbox event")
)

// SignatureTolerance is how far an event's signed time may be from now
// (either way) before VerifyEvent refuses it, against replays.
const SignatureTolerance = 300 * time.Second

// Event types.
const (
	EventSucceeded = "payment.succeeded"
	EventFailed    = "payment.failed"
)

// event is the body the sandbox POSTs to the webhook.
type event struct {
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Created int64     `json:"created"`
	Data    eventData `json:"data"`
}

type eventData struct {
	OrderID    int64  `json:"order_id"`
	Reference  string `json:"reference"`
	ChargeID   string `json:"charge_id"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	Brand      string `json:"brand,omitempty"`
	Last4      string `json:"last4,omitempty"`
	Customer   string `json:"customer,omitempty"`
	Method     string `json:"method,omitempty"`
	Reason     string `json:"reason,omitempty"`
	SaveMethod bool   `json:"save_method"`
}

// Event builds what a real provider would POST to our webhook for a charge
// result: the JSON body and the signature header value
// "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>" (Stripe's
// scheme). The body holds the order, the charge id, the amount, brand and
// last 4, and for a paid charge the customer ("cus_sbx_...") and method
// ("pm_sbx_...") references; never card data. A paid result's event id is
// derived from the order's reference, so the same payment always reports
// under the same id. A result without a ChargeID (refused before any
// charge) has no event: an error wrapping commerce.ErrInvalid.
func (p *Provider) Event(s Session, r ChargeResult) (body []byte, signature string, err error) {
	if err := p.checkSecret(); err != nil {
		return nil, "", fmt.Errorf("sandbox event: %w", err)
	}
	if r.ChargeID == "" {
		return nil, "", fmt.Errorf("sandbox event for order %d: no charge was made: %w", s.OrderID, commerce.ErrInvalid)
	}
	now := p.Now()
	e := event{
		Type:    EventFailed,
		Created: now.Unix(),
		Data: eventData{
			OrderID:    s.OrderID,
			Reference:  s.Reference,
			ChargeID:   r.ChargeID,
			Amount:     s.Amount.Amount,
			Currency:   s.Amount.Currency,
			Brand:      r.Brand,
			Last4:      r.Last4,
			SaveMethod: s.SaveMethod,
		},
	}
	if r.Paid {
		e.Type = EventSucceeded
		e.ID = p.derivedRef(eventPrefix, "event", r.ChargeID)
		// Derived from the charge, not the buyer: stable across deliveries
		// of one payment, unlinkable between payments.
		e.Data.Customer = p.derivedRef(customerPrefix, "customer", r.ChargeID)
		e.Data.Method = p.derivedRef(methodPrefix, "method", r.ChargeID)
	} else {
		e.Data.Reason = r.Reason
		if e.ID, err = randomRef(eventPrefix); err != nil {
			return nil, "", fmt.Errorf("sandbox event: %w", err)
		}
	}
	body, err = json.Marshal(e)
	if err != nil {
		return nil, "", fmt.Errorf("sandbox event: encode: %w", err)
	}
	t := strconv.FormatInt(now.Unix(), 10)
	return body, "t=" + t + ",v1=" + hex.EncodeToString(p.eventMAC(t, body)), nil
}

// eventMAC is HMAC-SHA256(secret, t + "." + body), as Stripe signs.
func (p *Provider) eventMAC(t string, body []byte) []byte {
	m := hmac.New(sha256.New, p.Secret)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyEvent checks an event's signature header and decodes the event
// into the outcome to apply. The signature must have the form Event
// writes (several v1 entries are allowed, as during a key rotation, and
// any matching one is enough; they are compared in constant time) and its
// time must be within SignatureTolerance of Now; otherwise ErrSignature.
// Only then is the body read; anything but a well-formed payment.succeeded
// or payment.failed event is ErrMalformedEvent.
//
// The outcome has EventID = the event id, OrderID, Paid, PaymentRef = the
// charge id, Reason when failed, Now = the provider's clock, and Method
// (provider "sandbox", customer and method refs, brand, last 4) only when
// paid and the buyer asked to save the method.
func (p *Provider) VerifyEvent(body []byte, signature string) (commerce.PaymentOutcome, error) {
	if err := p.checkSecret(); err != nil {
		return commerce.PaymentOutcome{}, fmt.Errorf("verify sandbox event: %w", err)
	}
	if err := p.checkSignature(body, signature); err != nil {
		return commerce.PaymentOutcome{}, err
	}
	var e event
	if err := json.Unmarshal(body, &e); err != nil {
		return commerce.PaymentOutcome{}, fmt.Errorf("verify sandbox event: decode: %w", ErrMalformedEvent)
	}
	if err := e.validate(); err != nil {
		return commerce.PaymentOutcome{}, fmt.Errorf("verify sandbox event %q: %s: %w", e.ID, err, ErrMalformedEvent)
	}
	o := commerce.PaymentOutcome{
		EventID:    e.ID,
		OrderID:    e.Data.OrderID,
		Paid:       e.Type == EventSucceeded,
		PaymentRef: e.Data.ChargeID,
		Now:        p.Now(),
	}
	if !o.Paid {
		o.Reason = e.Data.Reason
	} else if e.Data.SaveMethod {
		o.Method = &commerce.SavedMethod{
			Provider:    p.Name(),
			CustomerRef: e.Data.Customer,
			MethodRef:   e.Data.Method,
			Brand:       e.Data.Brand,
			Last4:       e.Data.Last4,
		}
	}
	return o, nil
}

// checkSignature verifies "t=<unix>,v1=<hex>[,v1=<hex>...]" against body.
func (p *Provider) checkSignature(body []byte, header string) error {
	if header == "" {
		return fmt.Errorf("verify sandbox event: no signature: %w", ErrSignature)
	}
	var t string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("verify sandbox event: malformed signature: %w", ErrSignature)
		}
		switch k {
		case "t":
			t = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	ts, err := strconv.ParseInt(t, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("verify sandbox event: malformed signature: %w", ErrSignature)
	}
	want := p.eventMAC(t, body)
	match := false
	for _, sig := range sigs {
		// No early exit: every candidate is compared.
		if hmac.Equal(sig, want) {
			match = true
		}
	}
	if !match {
		return fmt.Errorf("verify sandbox event: signature does not match: %w", ErrSignature)
	}
	age := p.Now().Sub(time.Unix(ts, 0))
	if age > SignatureTolerance || age < -SignatureTolerance {
		return fmt.Errorf("verify sandbox event: signed %s from now: %w", age.Round(time.Second), ErrSignature)
	}
	return nil
}

// validate says what makes a decoded event one the sandbox could not have
// sent, or nil.
func (e event) validate() error {
	d := e.Data
	switch {
	case !validRef(e.ID, eventPrefix):
		return errors.New("bad id")
	case e.Type != EventSucceeded && e.Type != EventFailed:
		return fmt.Errorf("unknown type %q", e.Type)
	case d.OrderID <= 0:
		return errors.New("no order")
	case !validRef(d.ChargeID, chargePrefix):
		return errors.New("bad charge id")
	case d.Last4 != "" && (len(d.Last4) != 4 || !digitsOnly(d.Last4)):
		return errors.New("bad last4")
	case e.Type == EventFailed && d.Reason == "":
		return errors.New("failure without a reason")
	case e.Type == EventSucceeded && (d.Last4 == "" || !validRef(d.Customer, customerPrefix) || !validRef(d.Method, methodPrefix)):
		return errors.New("payment without a method")
	}
	return nil
}
