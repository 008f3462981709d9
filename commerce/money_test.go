package commerce

import (
	"errors"
	"math"
	"testing"
)

func TestParseAmountIsExactInMinorUnits(t *testing.T) {
	tests := []struct {
		in, currency string
		want         int64
	}{
		{"25", "USD", 2500},
		{"25.00", "USD", 2500},
		{"25.5", "USD", 2550},
		{"25.05", "USD", 2505},
		{"0.01", "USD", 1},
		{"0", "USD", 0},
		{"0.00", "USD", 0},
		{"007.10", "EUR", 710},
		{"100", "JPY", 100},
		{"1.234", "KWD", 1234},
		{"1.5", "BHD", 1500},
		{"0.0001", "CLF", 1},
		// 0.1 + 0.2 is not 0.3 in floats; here it is exact.
		{"0.30", "USD", 30},
		{"92233720368547758.07", "USD", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.in+" "+tt.currency, func(t *testing.T) {
			got, err := ParseAmount(tt.in, tt.currency)
			if err != nil {
				t.Fatalf("ParseAmount(%q, %q): %v", tt.in, tt.currency, err)
			}
			want := Money{Amount: tt.want, Currency: tt.currency}
			if got != want {
				t.Errorf("ParseAmount(%q, %q) = %+v, want %+v", tt.in, tt.currency, got, want)
			}
		})
	}
}

func TestParseAmountRejectsWhatACurrencyCannotHold(t *testing.T) {
	tests := []struct {
		in, currency string
		want         error
	}{
		{"25.001", "USD", ErrTooManyDecimals},
		{"25.000", "USD", ErrTooManyDecimals},
		{"100.5", "JPY", ErrTooManyDecimals},
		{"100.0", "JPY", ErrTooManyDecimals},
		{"1.2345", "KWD", ErrTooManyDecimals},
		{"-1", "USD", ErrNegativeAmount},
		{"-0.01", "USD", ErrNegativeAmount},
		{"25", "XXX", ErrUnknownCurrency},
		{"25", "usd", ErrUnknownCurrency},
		{"25", "", ErrUnknownCurrency},
		{"", "USD", ErrMalformedAmount},
		{"abc", "USD", ErrMalformedAmount},
		{"25.", "USD", ErrMalformedAmount},
		{".5", "USD", ErrMalformedAmount},
		{"1,000", "USD", ErrMalformedAmount},
		{"1.2.3", "USD", ErrMalformedAmount},
		{"+5", "USD", ErrMalformedAmount},
		{" 5", "USD", ErrMalformedAmount},
		{"1e3", "USD", ErrMalformedAmount},
		{"$5", "USD", ErrMalformedAmount},
		{"92233720368547758.08", "USD", ErrMalformedAmount},
		{"99999999999999999999", "JPY", ErrMalformedAmount},
	}
	for _, tt := range tests {
		t.Run(tt.in+" "+tt.currency, func(t *testing.T) {
			got, err := ParseAmount(tt.in, tt.currency)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseAmount(%q, %q) = %+v, %v; want error %v", tt.in, tt.currency, got, err, tt.want)
			}
		})
	}
}

func TestMoneyStringUsesSymbolOrCode(t *testing.T) {
	tests := []struct {
		m    Money
		want string
	}{
		{Money{2500, "USD"}, "$25.00"},
		{Money{5, "USD"}, "$0.05"},
		{Money{0, "USD"}, "$0.00"},
		{Money{-100, "USD"}, "-$1.00"},
		{Money{950, "EUR"}, "€9.50"},
		{Money{1999, "GBP"}, "£19.99"},
		{Money{1000, "CAD"}, "CA$10.00"},
		{Money{1000, "AUD"}, "A$10.00"},
		{Money{2500, "JPY"}, "¥2500"},
		{Money{2500, "SEK"}, "25.00 SEK"},
		{Money{25000, "KWD"}, "25.000 KWD"},
		{Money{7, "KWD"}, "0.007 KWD"},
		{Money{300, "KRW"}, "300 KRW"},
		{Money{-7, "CHF"}, "-0.07 CHF"},
		{Money{2500, "XYZ"}, "2500 XYZ"},
		{Money{math.MinInt64, "USD"}, "-$92233720368547758.08"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestParseAmountRoundTripsThroughString(t *testing.T) {
	for _, in := range []string{"0.00", "0.01", "25.00", "1234567.89"} {
		m, err := ParseAmount(in, "SEK")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.String(), in+" SEK"; got != want {
			t.Errorf("ParseAmount(%q).String() = %q, want %q", in, got, want)
		}
	}
}
