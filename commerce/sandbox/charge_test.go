package sandbox

import (
	"fmt"
	"strings"
	"testing"
)

func TestChargeDecidesCardsLikeAProvider(t *testing.T) {
	p, _ := newTestProvider(t)
	_, s := startSession(t, p, testRequest())
	// testNow is 14 March 2026.
	cases := []struct {
		name    string
		card    Card
		paid    bool
		reason  string
		field   string
		charged bool
		brand   string
		last4   string
	}{
		{"visa test card succeeds", Card{"Ada L", "4242424242424242", "12 / 30", "123"}, true, "", "", true, BrandVisa, "4242"},
		{"spaces are ignored", Card{"Ada L", "4242 4242 4242 4242", "12/30", "123"}, true, "", "", true, BrandVisa, "4242"},
		{"dashes are ignored", Card{"Ada L", "4242-4242-4242-4242", "12/2030", "123"}, true, "", "", true, BrandVisa, "4242"},
		{"mastercard test card succeeds", Card{"Ada L", "5555 5555 5555 4444", "12/30", "123"}, true, "", "", true, BrandMastercard, "4444"},
		{"declined card", Card{"Ada L", "4000 0000 0000 0002", "12/30", "123"}, false, ReasonDeclined, "", true, BrandVisa, "0002"},
		{"insufficient funds", Card{"Ada L", "4000 0000 0000 9995", "12/30", "123"}, false, ReasonInsufficientFunds, "", true, BrandVisa, "9995"},
		{"real-looking visa is not a test card", Card{"Ada L", "4012 8888 8888 1881", "12/30", "123"}, false, ReasonNotTestCard, "", true, BrandVisa, "1881"},
		{"amex is not a test card", Card{"Ada L", "3782 822463 10005", "12/30", "1234"}, false, ReasonNotTestCard, "", true, BrandAmex, "0005"},
		{"card expired last month", Card{"Ada L", "4242424242424242", "02/26", "123"}, false, ReasonExpired, FieldExp, true, BrandVisa, "4242"},
		{"card expired years ago", Card{"Ada L", "4242424242424242", "01/2020", "123"}, false, ReasonExpired, FieldExp, true, BrandVisa, "4242"},
		{"card good through its month", Card{"Ada L", "4242424242424242", "3/26", "123"}, true, "", "", true, BrandVisa, "4242"},
		{"invalid luhn", Card{"Ada L", "4242 4242 4242 4241", "12/30", "123"}, false, ReasonNumberIncorrect, FieldNumber, false, "", ""},
		{"too short", Card{"Ada L", "4242 4242", "12/30", "123"}, false, ReasonNumberIncomplete, FieldNumber, false, "", ""},
		{"empty number", Card{"Ada L", "", "12/30", "123"}, false, ReasonNumberIncomplete, FieldNumber, false, "", ""},
		{"letters in number", Card{"Ada L", "4242 4242 4242 424x", "12/30", "123"}, false, ReasonNumberInvalid, FieldNumber, false, "", ""},
		{"too long", Card{"Ada L", "4242 4242 4242 4242 4242", "12/30", "123"}, false, ReasonNumberInvalid, FieldNumber, false, "", ""},
		{"expiry without slash", Card{"Ada L", "4242424242424242", "1230", "123"}, false, ReasonExpIncomplete, FieldExp, false, "", ""},
		{"expiry three-digit year", Card{"Ada L", "4242424242424242", "12/203", "123"}, false, ReasonExpIncomplete, FieldExp, false, "", ""},
		{"month 13", Card{"Ada L", "4242424242424242", "13/30", "123"}, false, ReasonExpMonthInvalid, FieldExp, false, "", ""},
		{"month 0", Card{"Ada L", "4242424242424242", "00/30", "123"}, false, ReasonExpMonthInvalid, FieldExp, false, "", ""},
		{"year too far", Card{"Ada L", "4242424242424242", "12/2099", "123"}, false, ReasonExpYearInvalid, FieldExp, false, "", ""},
		{"short csc", Card{"Ada L", "4242424242424242", "12/30", "12"}, false, ReasonCSCIncomplete, FieldCSC, false, "", ""},
		{"letters in csc", Card{"Ada L", "4242424242424242", "12/30", "12a"}, false, ReasonCSCIncomplete, FieldCSC, false, "", ""},
		{"amex needs four-digit csc", Card{"Ada L", "378282246310005", "12/30", "123"}, false, ReasonCSCIncomplete, FieldCSC, false, "", ""},
		{"no name", Card{"  ", "4242424242424242", "12/30", "123"}, false, ReasonNameMissing, FieldName, false, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := p.Charge(s, tc.card)
			if r.Paid != tc.paid || r.Reason != tc.reason || r.Field != tc.field {
				t.Fatalf("Charge = paid %v reason %q field %q; want paid %v reason %q field %q", r.Paid, r.Reason, r.Field, tc.paid, tc.reason, tc.field)
			}
			if got := r.ChargeID != ""; got != tc.charged {
				t.Fatalf("ChargeID = %q, want a charge: %v", r.ChargeID, tc.charged)
			}
			if tc.charged && !validRef(r.ChargeID, chargePrefix) {
				t.Fatalf("ChargeID = %q is not a sandbox charge id", r.ChargeID)
			}
			if r.Brand != tc.brand || r.Last4 != tc.last4 {
				t.Fatalf("Brand, Last4 = %q, %q; want %q, %q", r.Brand, r.Last4, tc.brand, tc.last4)
			}
		})
	}
}

func TestChargeResultKeepsNoCardData(t *testing.T) {
	p, _ := newTestProvider(t)
	_, s := startSession(t, p, testRequest())
	for _, number := range []string{"4242424242424242", "4000000000000002", "4012888888881881"} {
		r := p.Charge(s, Card{Name: "Ada Lovelace", Number: number, Exp: "12/30", CSC: "987"})
		got := fmt.Sprintf("%+v", r)
		for _, secret := range []string{number, number[:12], "987", "Ada Lovelace", "12/30"} {
			if strings.Contains(got, secret) {
				t.Fatalf("charge result %s contains %q", got, secret)
			}
		}
	}
}

func TestSuccessfulChargeIsOnePerOrder(t *testing.T) {
	p, _ := newTestProvider(t)
	_, s := startSession(t, p, testRequest())
	card := Card{Name: "Ada", Number: "4242424242424242", Exp: "12/30", CSC: "123"}
	first, again := p.Charge(s, card), p.Charge(s, card)
	if first.ChargeID != again.ChargeID {
		t.Fatalf("paying the same order twice gave two charges: %q, %q", first.ChargeID, again.ChargeID)
	}
	other := testRequest()
	other.OrderID, other.Reference = 43, "HC-000043"
	_, s2 := startSession(t, p, other)
	if id := p.Charge(s2, card).ChargeID; id == first.ChargeID {
		t.Fatalf("two orders share charge %q", id)
	}
	declined := Card{Name: "Ada", Number: "4000000000000002", Exp: "12/30", CSC: "123"}
	if a, b := p.Charge(s, declined).ChargeID, p.Charge(s, declined).ChargeID; a == b {
		t.Fatalf("two declined attempts share charge %q", a)
	}
}

func TestBrandFromNumberPrefix(t *testing.T) {
	cases := map[string]string{
		"4242424242424242": BrandVisa,
		"5105105105105100": BrandMastercard,
		"5555555555554444": BrandMastercard,
		"2221000000000009": BrandMastercard,
		"2720990000000000": BrandMastercard,
		"2721000000000000": "",
		"2220990000000000": "",
		"5600000000000000": "",
		"340000000000009":  BrandAmex,
		"378282246310005":  BrandAmex,
		"6011111111111117": "",
	}
	for number, want := range cases {
		if got := brandOf(number); got != want {
			t.Errorf("brandOf(%s) = %q, want %q", number, got, want)
		}
	}
}

func TestTestCardsAreValidNumbers(t *testing.T) {
	for _, tc := range TestCards() {
		n, reason := cleanNumber(tc.Number)
		if reason != "" || brandOf(n) != tc.Brand {
			t.Errorf("test card %s: reason %q, brand %q, want brand %q", tc.Number, reason, brandOf(n), tc.Brand)
		}
	}
}
