package sandbox

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

func TestEventRoundTripsThroughVerifyEvent(t *testing.T) {
	good := Card{Name: "Ada", Number: "4242 4242 4242 4242", Exp: "12/30", CSC: "123"}
	mc := Card{Name: "Ada", Number: "5555555555554444", Exp: "12/30", CSC: "123"}
	cases := []struct {
		name       string
		save       bool
		card       Card
		paid       bool
		reason     string
		wantMethod *commerce.SavedMethod // refs checked for shape only
	}{
		{"paid and saved", true, good, true, "", &commerce.SavedMethod{Provider: "sandbox", Brand: "Visa", Last4: "4242"}},
		{"mastercard paid and saved", true, mc, true, "", &commerce.SavedMethod{Provider: "sandbox", Brand: "Mastercard", Last4: "4444"}},
		{"paid, not saved", false, good, true, "", nil},
		{"declined", true, Card{Name: "Ada", Number: "4000000000000002", Exp: "12/30", CSC: "123"}, false, ReasonDeclined, nil},
		{"insufficient funds", true, Card{Name: "Ada", Number: "4000000000009995", Exp: "12/30", CSC: "123"}, false, ReasonInsufficientFunds, nil},
		{"expired card", true, Card{Name: "Ada", Number: "4242424242424242", Exp: "01/20", CSC: "123"}, false, ReasonExpired, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newTestProvider(t)
			r := testRequest()
			r.SaveMethod = tc.save
			_, s := startSession(t, p, r)
			res := p.Charge(s, tc.card)
			body, sig, err := p.Event(s, res)
			if err != nil {
				t.Fatalf("Event: %v", err)
			}
			if strings.Contains(string(body), strings.ReplaceAll(tc.card.Number, " ", "")) {
				t.Fatalf("event body carries the card number: %s", body)
			}
			o, err := p.VerifyEvent(body, sig)
			if err != nil {
				t.Fatalf("VerifyEvent: %v", err)
			}
			if !validRef(o.EventID, eventPrefix) || o.OrderID != 42 || o.Paid != tc.paid || o.PaymentRef != res.ChargeID || o.Reason != tc.reason || !o.Now.Equal(testNow) {
				t.Fatalf("outcome = %+v", o)
			}
			if (o.Method == nil) != (tc.wantMethod == nil) {
				t.Fatalf("Method = %+v, want %+v", o.Method, tc.wantMethod)
			}
			if o.Method != nil {
				m := *o.Method
				if m.Provider != tc.wantMethod.Provider || m.Brand != tc.wantMethod.Brand || m.Last4 != tc.wantMethod.Last4 ||
					!validRef(m.CustomerRef, customerPrefix) || !validRef(m.MethodRef, methodPrefix) {
					t.Fatalf("Method = %+v, want %+v with sandbox refs", m, *tc.wantMethod)
				}
				if m.Label() != tc.wantMethod.Brand+" ending "+tc.wantMethod.Last4 {
					t.Fatalf("Label() = %q", m.Label())
				}
			}
		})
	}
}

func TestPaidEventKeepsItsIDAcrossDeliveries(t *testing.T) {
	p, c := newTestProvider(t)
	_, s := startSession(t, p, testRequest())
	deliver := func(card Card) commerce.PaymentOutcome {
		t.Helper()
		body, sig, err := p.Event(s, p.Charge(s, card))
		if err != nil {
			t.Fatal(err)
		}
		o, err := p.VerifyEvent(body, sig)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	paid := Card{Name: "Ada", Number: "4242424242424242", Exp: "12/30", CSC: "123"}
	first := deliver(paid)
	c.t = c.t.Add(time.Minute)
	again := deliver(paid)
	if first.EventID != again.EventID || first.PaymentRef != again.PaymentRef || *first.Method != *again.Method {
		t.Fatalf("paying one order twice reported differently:\n%+v %+v\n%+v %+v", first, *first.Method, again, *again.Method)
	}
	declined := Card{Name: "Ada", Number: "4000000000000002", Exp: "12/30", CSC: "123"}
	if a, b := deliver(declined), deliver(declined); a.EventID == b.EventID {
		t.Fatalf("two declined attempts share event %q", a.EventID)
	}
}

func TestEventNeedsACharge(t *testing.T) {
	p, _ := newTestProvider(t)
	_, s := startSession(t, p, testRequest())
	res := p.Charge(s, Card{Name: "Ada", Number: "4242424242424241", Exp: "12/30", CSC: "123"})
	if _, _, err := p.Event(s, res); !errors.Is(err, commerce.ErrInvalid) {
		t.Fatalf("Event for a refused card = %v, want ErrInvalid", err)
	}
}

// signed returns a Stripe-style header for body at t under p's secret.
func signed(p *Provider, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(p.eventMAC(ts, body))
}

func TestVerifyEventRefusesBadSignatures(t *testing.T) {
	p, _ := newTestProvider(t)
	_, s := startSession(t, p, testRequest())
	body, sig, err := p.Event(s, p.Charge(s, Card{Name: "Ada", Number: "4242424242424242", Exp: "12/30", CSC: "123"}))
	if err != nil {
		t.Fatal(err)
	}
	forger := &Provider{Secret: []byte("another-secret-another-secret-another"), Now: p.Now}
	tampered := []byte(strings.Replace(string(body), `"order_id":42`, `"order_id":43`, 1))
	_, v1, _ := strings.Cut(sig, ",")
	cases := []struct {
		name string
		body []byte
		sig  string
		want error
	}{
		{"as signed", body, sig, nil},
		{"rotated key: second v1 matches", body, sig + ",v1=" + strings.Repeat("ab", 32), nil},
		{"rotated key: first v1 is unknown", body, "t=" + strconv.FormatInt(testNow.Unix(), 10) + ",v1=" + strings.Repeat("ab", 32) + "," + v1, nil},
		{"signed 300 s ago", body, signed(p, testNow.Add(-300*time.Second), body), nil},
		{"missing", body, "", ErrSignature},
		{"forged with another secret", body, signed(forger, testNow, body), ErrSignature},
		{"body changed after signing", tampered, sig, ErrSignature},
		{"signed 301 s ago", body, signed(p, testNow.Add(-301*time.Second), body), ErrSignature},
		{"signed an hour ago", body, signed(p, testNow.Add(-time.Hour), body), ErrSignature},
		{"signed 301 s ahead", body, signed(p, testNow.Add(301*time.Second), body), ErrSignature},
		{"timestamp changed", body, strings.Replace(sig, "t=", "t=1", 1), ErrSignature},
		{"no timestamp", body, v1, ErrSignature},
		{"no v1", body, "t=" + strconv.FormatInt(testNow.Unix(), 10), ErrSignature},
		{"v1 not hex", body, "t=" + strconv.FormatInt(testNow.Unix(), 10) + ",v1=zz", ErrSignature},
		{"X's scheme", body, "sha256=abcd", ErrSignature},
		{"signed garbage", []byte("not json"), signed(p, testNow, []byte("not json")), ErrMalformedEvent},
		{"signed unknown type", []byte(`{"id":"evt_sbx_000000000000000000000000","type":"charge.refunded","created":1,"data":{"order_id":42,"charge_id":"ch_sbx_000000000000000000000000"}}`), "", ErrMalformedEvent},
		{"signed event without order", []byte(`{"id":"evt_sbx_000000000000000000000000","type":"payment.failed","created":1,"data":{"charge_id":"ch_sbx_000000000000000000000000","reason":"x"}}`), "", ErrMalformedEvent},
		{"signed paid event without method", []byte(`{"id":"evt_sbx_000000000000000000000000","type":"payment.succeeded","created":1,"data":{"order_id":42,"charge_id":"ch_sbx_000000000000000000000000","last4":"4242"}}`), "", ErrMalformedEvent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sig := tc.sig
			if sig == "" && tc.want == ErrMalformedEvent {
				sig = signed(p, testNow, tc.body)
			}
			o, err := p.VerifyEvent(tc.body, sig)
			if tc.want == nil && err != nil {
				t.Fatalf("VerifyEvent = %v, want ok", err)
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("VerifyEvent = %+v, %v; want %v", o, err, tc.want)
				}
				if o != (commerce.PaymentOutcome{}) {
					t.Fatalf("refused event still produced outcome %+v", o)
				}
			}
		})
	}
}

func FuzzVerifyEvent(f *testing.F) {
	p := &Provider{Secret: []byte("0123456789abcdef0123456789abcdef-fuzz"), Now: func() time.Time { return testNow }}
	r := testRequest()
	ps, err := p.StartPayment(context.Background(), r)
	if err != nil {
		f.Fatal(err)
	}
	s, _ := p.Session(ps.ID)
	for _, n := range []string{"4242424242424242", "4000000000000002"} {
		body, sig, err := p.Event(s, p.Charge(s, Card{Name: "A", Number: n, Exp: "12/30", CSC: "123"}))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body, sig)
	}
	f.Add([]byte("{}"), "t=1,v1=00")
	f.Add([]byte(""), ",,,=,t=,v1=")
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		o, err := p.VerifyEvent(body, sig)
		if err == nil && (o.EventID == "" || o.OrderID <= 0 || o.PaymentRef == "") {
			t.Fatalf("accepted event without identity: %+v", o)
		}
		// Fuzzed bodies signed correctly must decode or fail cleanly too.
		o, err = p.VerifyEvent(body, signed(p, testNow, body))
		if err != nil && !errors.Is(err, ErrMalformedEvent) {
			t.Fatalf("correctly signed body refused for its signature: %v", err)
		}
		if err == nil && (o.EventID == "" || o.OrderID <= 0 || o.PaymentRef == "") {
			t.Fatalf("accepted event without identity: %+v", o)
		}
	})
}
