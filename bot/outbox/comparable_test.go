package outbox

import "testing"

func TestComparableTextsSurviveXsRendering(t *testing.T) {
	tests := []struct {
		name, ours, xs string
		same           bool
	}{
		{"identical", "Sold out.", "Sold out.", true},
		{"white space collapsed", "Sold  out,\n sorry. ", "Sold out, sorry.", true},
		{"html escaped", "Tea & <cakes>", "Tea &amp; &lt;cakes&gt;", true},
		{"reply @names added", "Sold out.", "@ann @bob Sold out.", true},
		{"link shortened", "Pay here: https://link.invalid/ (15 min)", "Pay here: https://t.co/AbC123 (15 min)", true},
		{"nfc", "Cafe\u0301 sold out", "Caf\u00e9 sold out", true},
		{"other words", "Sold out.", "Restocked.", false},
		{"a mention inside is kept", "Thanks @ann!", "Thanks @bob!", false},
		{"one more word", "Sold out.", "Sold out. Sorry.", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := comparable(tc.ours) == comparable(tc.xs); got != tc.same {
				t.Errorf("comparable(%q) == comparable(%q) is %v, want %v (%q, %q)", tc.ours, tc.xs, got, tc.same, comparable(tc.ours), comparable(tc.xs))
			}
		})
	}
}
