package vault

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzSeeds were sealed once with keyA (id "a") and keyB (id "b"). They are
// fixed text, not sealed at run time, because fuzz workers are separate
// processes and a fresh nonce in each would make the seeds disagree.
var fuzzSeeds = []struct {
	sealed, aad, plaintext string
}{
	{"v1.a.JFI8XxKn5gNBmm5gxJ8bQ9dVBNwbyMnjdTK6-E80tMzbd6KHv_SMupSerEw3db0yovs", "buyer:1:shipping", "1 Main St, Springfield"},
	{"v1.a.lXIWDk6nqH8GcxMNeio8VkLbNj8qOgChql-EYw", "buyer:2:contact", ""},
	{"v1.b.p053VK9rs2p4OklQ4Ejh5rB--j2941TqEfhwBqfa8YjMlrX_W8_N", "buyer:3:contact", "+1 555 0100"},
}

// FuzzOpen checks that Open never panics, fails only with ErrCorrupt or
// ErrUnknownKey, and succeeds only on the exact text and aad that were
// sealed: no other spelling of a sealed value opens.
func FuzzOpen(f *testing.F) {
	k := mustParse(f, "a:"+keyA+",b:"+keyB)
	for _, s := range fuzzSeeds {
		f.Add(s.sealed, s.aad)
	}
	f.Add("", "")
	f.Add("v1.", "")
	f.Add("v1.a.", "")
	f.Add("v1.c.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "")
	f.Add("v1.a.\n\n\n", "x")
	f.Fuzz(func(t *testing.T, sealed, aad string) {
		got, err := k.Open(sealed, aad)
		if err != nil {
			if got != nil {
				t.Fatalf("Open returned plaintext %q with error %v", got, err)
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("Open(%q) err = %v, want ErrCorrupt or ErrUnknownKey", sealed, err)
			}
			return
		}
		for _, s := range fuzzSeeds {
			if s.sealed == sealed && s.aad == aad {
				if !bytes.Equal(got, []byte(s.plaintext)) {
					t.Fatalf("Open(%q) = %q, want %q", sealed, got, s.plaintext)
				}
				return
			}
		}
		t.Fatalf("Open accepted %q with aad %q, which was never sealed", sealed, aad)
	})
}
