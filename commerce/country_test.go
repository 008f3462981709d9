package commerce

import (
	"strings"
	"testing"
)

func TestValidCountryAcceptsOnlyUpperCaseAlpha2(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"US", true},
		{"CA", true},
		{"GB", true},
		{"DE", true},
		{"JP", true},
		{"AX", true},
		{"ZW", true},
		{"SS", true},
		{"XK", false}, // Kosovo: user-assigned, not official
		{"UK", false}, // the UK is GB
		{"EU", false},
		{"us", false},
		{"Us", false},
		{"USA", false},
		{"U", false},
		{"", false},
		{"S ", false},
		{" US", false},
		{"US ", false},
		{"ZZ", false},
	}
	for _, tt := range tests {
		if got := ValidCountry(tt.code); got != tt.want {
			t.Errorf("ValidCountry(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestCountryListHasAll249Codes(t *testing.T) {
	codes := strings.Fields(countryCodes)
	if len(codes) != 249 {
		t.Errorf("%d codes, want 249", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c] {
			t.Errorf("duplicate code %q", c)
		}
		seen[c] = true
		if !ValidCountry(c) {
			t.Errorf("ValidCountry(%q) = false for a listed code", c)
		}
	}
}
