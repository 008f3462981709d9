package commerce

import "testing"

func TestCurrencyExponentFollowsISO4217MinorUnits(t *testing.T) {
	tests := []struct {
		code   string
		want   int
		wantOK bool
	}{
		{"USD", 2, true},
		{"EUR", 2, true},
		{"GBP", 2, true},
		{"JPY", 0, true},
		{"KRW", 0, true},
		{"ISK", 0, true},
		{"CLP", 0, true},
		{"VND", 0, true},
		{"XOF", 0, true},
		{"KWD", 3, true},
		{"BHD", 3, true},
		{"JOD", 3, true},
		{"OMR", 3, true},
		{"TND", 3, true},
		{"IQD", 3, true},
		{"LYD", 3, true},
		{"CLF", 4, true},
		{"UYW", 4, true},
		{"CHF", 2, true},
		{"INR", 2, true},
		{"usd", 0, false},
		{"XAU", 0, false}, // gold: no minor unit
		{"XDR", 0, false},
		{"HRK", 0, false}, // withdrawn in 2023
		{"", 0, false},
		{"US", 0, false},
		{"USDX", 0, false},
	}
	for _, tt := range tests {
		got, ok := CurrencyExponent(tt.code)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("CurrencyExponent(%q) = %d, %v; want %d, %v", tt.code, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestCurrencyListIsWellFormed(t *testing.T) {
	if n := len(currencyExponents); n < 150 {
		t.Errorf("only %d currencies; the active ISO 4217 list has about 160", n)
	}
	for code, exp := range currencyExponents {
		if len(code) != 3 || exp < 0 || exp > 4 {
			t.Errorf("bad entry %q: %d", code, exp)
		}
		for _, r := range code {
			if r < 'A' || r > 'Z' {
				t.Errorf("code %q is not upper-case letters", code)
			}
		}
	}
}
