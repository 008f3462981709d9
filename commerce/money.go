package commerce

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors returned by ParseAmount. Callers may test for them with errors.Is;
// the returned error always wraps exactly one of them.
var (
	// ErrUnknownCurrency means the currency is not an active ISO 4217 code
	// with a minor unit.
	ErrUnknownCurrency = errors.New("unknown currency")
	// ErrNegativeAmount means the amount starts with a minus sign.
	ErrNegativeAmount = errors.New("negative amount")
	// ErrMalformedAmount means the text is not a plain decimal number such
	// as "25", "25.5" or "25.00", or it does not fit in an int64.
	ErrMalformedAmount = errors.New("malformed amount")
	// ErrTooManyDecimals means the amount has more digits after the point
	// than the currency's minor unit allows ("25.001" USD, "100.5" JPY).
	ErrTooManyDecimals = errors.New("too many decimals for currency")
)

// Money is an amount in minor units of an ISO 4217 currency: Money{2500,
// "USD"} is twenty-five dollars and Money{2500, "JPY"} is 2,500 yen. It never
// holds a fraction of a minor unit, and it is compared with ==.
type Money struct {
	// Amount is the count of minor units (cents for USD, yen for JPY).
	Amount int64
	// Currency is the upper-case ISO 4217 code.
	Currency string
}

// symbols lists the currencies String writes with a symbol in front.
// Every other currency is written as "25.00 SEK".
var symbols = map[string]string{
	"USD": "$",
	"EUR": "€",
	"GBP": "£",
	"CAD": "CA$",
	"AUD": "A$",
	"JPY": "¥",
}

// String formats m for people: "$25.00", "€9.50", "¥2500", "-$1.00" for the
// currencies with a well-known symbol (USD, EUR, GBP, CAD, AUD, JPY), and
// "25.000 KWD" for the others. A currency CurrencyExponent does not know is
// written in minor units, "2500 XYZ", since its exponent is unknown.
func (m Money) String() string {
	exp, ok := CurrencyExponent(m.Currency)
	if !ok {
		exp = 0
	}
	num := formatMinor(m.Amount, exp)
	if sym, ok := symbols[m.Currency]; ok {
		if strings.HasPrefix(num, "-") {
			return "-" + sym + num[1:]
		}
		return sym + num
	}
	return num + " " + m.Currency
}

// formatMinor writes amount minor units as a decimal with exp digits after
// the point, without going through floats.
func formatMinor(amount int64, exp int) string {
	neg := amount < 0
	// Work on the unsigned magnitude so math.MinInt64 formats correctly.
	mag := uint64(amount)
	if neg {
		mag = -mag
	}
	digits := strconv.FormatUint(mag, 10)
	if exp > 0 {
		if len(digits) <= exp {
			digits = strings.Repeat("0", exp-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// ParseAmount reads a non-negative decimal such as "25", "25.5" or "25.00"
// as an exact amount of currency: ParseAmount("25", "USD") is Money{2500,
// "USD"}. Zero is allowed (giveaways). It never uses floating point.
//
// It rejects an unknown currency (ErrUnknownCurrency), a leading minus sign
// (ErrNegativeAmount), anything but digits with at most one point between
// digits, or a value too large for int64 (ErrMalformedAmount), and more
// digits after the point than the currency's minor unit allows, even zeros:
// "25.001" USD and "100.5" JPY (ErrTooManyDecimals).
func ParseAmount(s, currency string) (Money, error) {
	exp, ok := CurrencyExponent(currency)
	if !ok {
		return Money{}, fmt.Errorf("parse amount %q: %w %q", s, ErrUnknownCurrency, currency)
	}
	if strings.HasPrefix(s, "-") {
		return Money{}, fmt.Errorf("parse amount %q: %w", s, ErrNegativeAmount)
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if !allDigits(whole) || (hasPoint && !allDigits(frac)) {
		return Money{}, fmt.Errorf("parse amount %q: %w", s, ErrMalformedAmount)
	}
	if len(frac) > exp {
		return Money{}, fmt.Errorf("parse amount %q: %w (%s has %d)", s, ErrTooManyDecimals, currency, exp)
	}
	digits := whole + frac + strings.Repeat("0", exp-len(frac))
	amount, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return Money{}, fmt.Errorf("parse amount %q: %w", s, ErrMalformedAmount)
	}
	return Money{Amount: amount, Currency: currency}, nil
}

// allDigits reports whether s is non-empty and only ASCII digits.
func allDigits(s string) bool {
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
