package sandbox

import (
	"strconv"
	"strings"
	"time"
)

// Card is what the buyer typed on the hosted page. It is never stored,
// never logged and never put in an event; only Charge reads it.
type Card struct {
	Name   string
	Number string // spaces and dashes are ignored
	Exp    string // "MM / YY", "MM/YY" or "MM/YYYY"
	CSC    string
}

// Card field names, as the page's autocomplete tokens name them; a
// ChargeResult's Field is one of these.
const (
	FieldName   = "cc-name"
	FieldNumber = "cc-number"
	FieldExp    = "cc-exp"
	FieldCSC    = "cc-csc"
)

// Reasons a charge fails, worded for the buyer like a provider's page.
const (
	ReasonDeclined          = "Your card was declined."
	ReasonInsufficientFunds = "Your card has insufficient funds."
	ReasonNotTestCard       = "This card is not a sandbox test card."
	ReasonExpired           = "Your card has expired."
	ReasonNumberIncorrect   = "Your card number is incorrect."
	ReasonNumberIncomplete  = "Your card number is incomplete."
	ReasonNumberInvalid     = "Your card number is invalid."
	ReasonExpIncomplete     = "Your card's expiration date is incomplete."
	ReasonExpMonthInvalid   = "Your card's expiration month is invalid."
	ReasonExpYearInvalid    = "Your card's expiration year is invalid."
	ReasonCSCIncomplete     = "Your card's security code is incomplete."
	ReasonNameMissing       = "Enter the name on your card."
)

// ChargeResult is a provider's decision about a card. It carries no card
// data beyond the brand and the last four digits.
type ChargeResult struct {
	// Paid is true when the payment succeeded.
	Paid bool
	// Reason says why it failed, for the buyer (one of the Reason
	// constants); empty when Paid.
	Reason string
	// ChargeID names the attempt ("ch_sbx_..."). It is empty when the card
	// was refused before any charge (a field incomplete or invalid, Field
	// says which): no event follows such a result. A successful charge's
	// id is derived from the order's reference, so paying a session twice
	// yields the same charge.
	ChargeID string
	// Field names the card field at fault (FieldNumber...), when one is.
	Field string
	// Brand ("Visa", "Mastercard", "American Express", or "" when unknown)
	// and Last4 are set once the number is a valid card number.
	Brand, Last4 string
}

// TestCard is a card number the sandbox recognises.
type TestCard struct {
	Number  string // grouped for display: "4242 4242 4242 4242"
	Brand   string
	Outcome string // what happens, for the page's hint: "Succeeds"
	paid    bool
	reason  string
}

// TestCards lists the cards the sandbox accepts, in the order a page
// should show them. Any other valid card number is declined with
// ReasonNotTestCard.
func TestCards() []TestCard {
	return []TestCard{
		{Number: "4242 4242 4242 4242", Brand: "Visa", Outcome: "Succeeds", paid: true},
		{Number: "4000 0000 0000 0002", Brand: "Visa", Outcome: "Declined", reason: ReasonDeclined},
		{Number: "4000 0000 0000 9995", Brand: "Visa", Outcome: "Insufficient funds", reason: ReasonInsufficientFunds},
		{Number: "5555 5555 5555 4444", Brand: "Mastercard", Outcome: "Succeeds", paid: true},
	}
}

// maxExpiryYears is how far ahead an expiry date may be.
const maxExpiryYears = 20

// Charge decides a card for session s like a provider would, in this
// order: the name must be present; the number must be 12 to 19 digits
// (spaces and dashes ignored) passing the Luhn check; the expiry must be a
// real month not in the past (a card is good through the end of its month,
// in UTC) nor more than 20 years ahead; the security code must be 3 digits
// (4 for American Express). A card failing one of these is refused without
// a charge (empty ChargeID) — except an expired card, which is declined
// with a charge like a provider does. Then only the TestCards decide:
// 4242424242424242 and 5555555555554444 succeed, 4000000000000002 is
// declined, 4000000000009995 has insufficient funds, and any other number
// is declined with ReasonNotTestCard.
//
// Charge never fails for a reason of its own: if no random id can be read
// the result is a decline with ReasonDeclined and no ChargeID.
func (p *Provider) Charge(s Session, card Card) ChargeResult {
	if strings.TrimSpace(card.Name) == "" {
		return ChargeResult{Reason: ReasonNameMissing, Field: FieldName}
	}
	number, reason := cleanNumber(card.Number)
	if reason != "" {
		return ChargeResult{Reason: reason, Field: FieldNumber}
	}
	brand := brandOf(number)
	res := ChargeResult{Brand: brand, Last4: number[len(number)-4:]}
	expired, reason := checkExpiry(card.Exp, p.Now())
	if reason != "" {
		return ChargeResult{Reason: reason, Field: FieldExp}
	}
	cscLen := 3
	if brand == BrandAmex {
		cscLen = 4
	}
	if len(card.CSC) != cscLen || !digitsOnly(card.CSC) {
		return ChargeResult{Reason: ReasonCSCIncomplete, Field: FieldCSC}
	}
	res.Reason = ReasonNotTestCard
	if expired {
		res.Reason = ReasonExpired
		res.Field = FieldExp
	} else {
		for _, tc := range TestCards() {
			if strings.ReplaceAll(tc.Number, " ", "") == number {
				res.Paid, res.Reason = tc.paid, tc.reason
				break
			}
		}
	}
	if res.Paid {
		// One successful charge per order: a double submission or a retry
		// after a failed delivery gives the same charge and event.
		res.ChargeID = p.derivedRef(chargePrefix, "charge", s.Reference)
		return res
	}
	id, err := randomRef(chargePrefix)
	if err != nil {
		return ChargeResult{Reason: ReasonDeclined}
	}
	res.ChargeID = id
	return res
}

// Card brands as Charge names them.
const (
	BrandVisa       = "Visa"
	BrandMastercard = "Mastercard"
	BrandAmex       = "American Express"
)

// brandOf names the brand from the number's prefix: Visa 4, Mastercard
// 51-55 and 2221-2720, American Express 34 and 37; "" otherwise.
func brandOf(number string) string {
	switch {
	case strings.HasPrefix(number, "4"):
		return BrandVisa
	case strings.HasPrefix(number, "34"), strings.HasPrefix(number, "37"):
		return BrandAmex
	}
	if len(number) >= 4 {
		p2, _ := strconv.Atoi(number[:2])
		p4, _ := strconv.Atoi(number[:4])
		if (p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720) {
			return BrandMastercard
		}
	}
	return ""
}

// cleanNumber strips spaces and dashes and checks the result is a card
// number; it returns the digits, or a reason.
func cleanNumber(raw string) (string, string) {
	n := strings.NewReplacer(" ", "", "-", "").Replace(raw)
	switch {
	case n == "":
		return "", ReasonNumberIncomplete
	case !digitsOnly(n), len(n) > 19:
		return "", ReasonNumberInvalid
	case len(n) < 12:
		return "", ReasonNumberIncomplete
	case !luhn(n):
		return "", ReasonNumberIncorrect
	}
	return n, ""
}

// luhn reports whether the digits pass the Luhn (mod 10) check.
func luhn(digits string) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// checkExpiry reads "MM / YY", "MM/YY" or "MM/YYYY" (spaces anywhere
// ignored, month of one or two digits). It returns whether the card is
// expired at now, or a reason the date is unusable.
func checkExpiry(raw string, now time.Time) (expired bool, reason string) {
	s := strings.ReplaceAll(raw, " ", "")
	mm, yy, ok := strings.Cut(s, "/")
	if !ok || len(mm) < 1 || len(mm) > 2 || (len(yy) != 2 && len(yy) != 4) || !digitsOnly(mm) || !digitsOnly(yy) {
		return false, ReasonExpIncomplete
	}
	month, _ := strconv.Atoi(mm)
	year, _ := strconv.Atoi(yy)
	if month < 1 || month > 12 {
		return false, ReasonExpMonthInvalid
	}
	if len(yy) == 2 {
		year += 2000
	}
	now = now.UTC()
	if year > now.Year()+maxExpiryYears {
		return false, ReasonExpYearInvalid
	}
	// Good through the last instant of its month.
	end := time.Date(year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC)
	return !now.Before(end), ""
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
