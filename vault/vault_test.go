package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Test keys: SHA-256 of "hashcart vault test key a" / "... b". keyA is in
// standard padded base64, keyB in URL-safe unpadded base64, so every test
// that parses both covers both forms.
const (
	keyA = "VHlU6itZXAv8k8B+a7qkgV6XLFZUpkHAR+XuVowB7ao="
	keyB = "cLYrWUW5rpkM1BsGG-XDbj6qiLrHWfUbl4N5zCJkMMY"
)

func mustParse(t testing.TB, spec string) *Keyring {
	t.Helper()
	k, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return k
}

// keyRaw returns the raw bytes of a test key.
func keyRaw(t testing.TB, s string) []byte {
	t.Helper()
	raw, ok := decodeKey(s)
	if !ok || len(raw) != KeySize {
		t.Fatalf("bad test key")
	}
	return raw
}

// assertNoKeyText fails if out contains any 8-character window of any key's
// text, or the key bytes in any common encoding.
func assertNoKeyText(t *testing.T, out string, keys ...string) {
	t.Helper()
	for _, key := range keys {
		for i := 0; i+8 <= len(key); i++ {
			if strings.Contains(out, key[i:i+8]) {
				t.Fatalf("output %q contains key text %q", out, key[i:i+8])
			}
		}
		raw, ok := decodeKey(key)
		if !ok {
			continue
		}
		for _, form := range []string{
			string(raw[:8]),
			hex.EncodeToString(raw[:4]),
			fmt.Sprint(raw[:4]),
			fmt.Sprintf("%d", raw[:4]),
			base64.StdEncoding.EncodeToString(raw[:6]),
			base64.URLEncoding.EncodeToString(raw[:6]),
		} {
			if strings.Contains(out, strings.Trim(form, "[]")) {
				t.Fatalf("output %q contains key bytes as %q", out, form)
			}
		}
	}
}

func TestSealThenOpenReturnsPlaintext(t *testing.T) {
	k := mustParse(t, "a:"+keyA)
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", []byte{}},
		{"nil", nil},
		{"address", []byte("Jane Doe\n1 Main St\nSpringfield 12345\nUS")},
		{"unicode", []byte("東京都千代田区 1-1, 📦")},
		{"binary", []byte{0, 1, 2, 255, 254, 0}},
		{"large", bytes.Repeat([]byte("x"), 64<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := k.Seal(tt.plaintext, "buyer:123:shipping")
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			got, err := k.Open(sealed, "buyer:123:shipping")
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) || got == nil {
				t.Fatalf("Open = %q, want %q (non-nil)", got, tt.plaintext)
			}
		})
	}
}

func TestSealedValueIsTextSafeWithVersionKeyIDAndNonce(t *testing.T) {
	k := mustParse(t, "a:"+keyA+",b:"+keyB)
	plaintext := []byte("1 Main St")
	sealed, err := k.Seal(plaintext, "buyer:1:shipping")
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	rest, ok := strings.CutPrefix(sealed, "v1.b.")
	if !ok {
		t.Fatalf("sealed %q does not start with v1.b.", sealed)
	}
	for _, c := range rest {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			t.Fatalf("payload %q has %q, not unpadded base64url", rest, c)
		}
	}
	payload, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		t.Fatalf("payload is not base64url: %v", err)
	}
	if want := 12 + len(plaintext) + 16; len(payload) != want {
		t.Fatalf("payload is %d bytes, want nonce+ciphertext+tag = %d", len(payload), want)
	}
	if bytes.Contains(payload, plaintext) {
		t.Fatalf("payload contains the plaintext")
	}
}

func TestSealTwiceGivesDifferentValues(t *testing.T) {
	k := mustParse(t, "a:"+keyA)
	seen := map[string]bool{}
	nonces := map[string]bool{}
	for i := 0; i < 100; i++ {
		s, err := k.Seal([]byte("same"), "aad")
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if seen[s] {
			t.Fatalf("Seal repeated a value: %q", s)
		}
		seen[s] = true
		payload, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, "v1.a."))
		if nonces[string(payload[:12])] {
			t.Fatalf("Seal repeated a nonce")
		}
		nonces[string(payload[:12])] = true
	}
}

func TestOpenRejectsEveryAlteredByte(t *testing.T) {
	k := mustParse(t, "a:"+keyA+",b:"+keyB)
	sealed, err := k.Seal([]byte("1 Main St, Springfield"), "buyer:1:shipping")
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	payloadStart := len("v1.b.")
	for i := 0; i < len(sealed); i++ {
		replacements := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \r\n\x00\xff")
		for _, c := range replacements {
			if sealed[i] == c {
				continue
			}
			altered := sealed[:i] + string([]byte{c}) + sealed[i+1:]
			got, err := k.Open(altered, "buyer:1:shipping")
			if err == nil {
				t.Fatalf("Open accepted %q (byte %d set to %q): %q", altered, i, c, got)
			}
			if got != nil {
				t.Fatalf("Open returned plaintext with error %v", err)
			}
			if i >= payloadStart && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d set to %q: err = %v, want ErrCorrupt", i, c, err)
			}
			// An altered key id may name a key the ring lacks.
			if i < payloadStart && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("header byte %d set to %q: err = %v, want ErrCorrupt or ErrUnknownKey", i, c, err)
			}
		}
	}
	for _, altered := range []string{
		sealed[:len(sealed)-1],
		sealed + "A",
		sealed[:payloadStart] + sealed[payloadStart+4:],
		"",
		"v1",
		"v1.b.",
		"v1.b",
		"v2" + sealed[2:],
		"v1.a." + sealed[payloadStart:], // relabelled to the other key
		sealed[:payloadStart+4] + "\n" + sealed[payloadStart+4:], // the decoder would skip it
		sealed[:payloadStart+4] + "\r\n" + sealed[payloadStart+4:],
		sealed + "\n",
		sealed + "=",
		" " + sealed,
	} {
		if _, err := k.Open(altered, "buyer:1:shipping"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Open(%q) err = %v, want ErrCorrupt", altered, err)
		}
	}
}

func TestOpenWithOtherAADIsCorrupt(t *testing.T) {
	k := mustParse(t, "a:"+keyA)
	sealed, err := k.Seal([]byte("1 Main St"), "buyer:123:shipping")
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	for _, aad := range []string{"buyer:124:shipping", "buyer:123:contact", "", "buyer:123:shipping ", "v1.a.buyer:123:shipping"} {
		got, err := k.Open(sealed, aad)
		if !errors.Is(err, ErrCorrupt) || got != nil {
			t.Errorf("Open with aad %q = %q, %v; want nil, ErrCorrupt", aad, got, err)
		}
	}
}

func TestRotationReadsOldKeysAndSealsWithNewest(t *testing.T) {
	plaintext := []byte("1 Main St")
	const aad = "buyer:7:shipping"

	old := mustParse(t, "a:"+keyA)
	oldSealed, err := old.Seal(plaintext, aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if old.NeedsRotation(oldSealed) {
		t.Fatalf("NeedsRotation true for a value under the current key")
	}

	both := mustParse(t, "a:"+keyA+",b:"+keyB)
	if both.Current() != "b" {
		t.Fatalf("Current = %q, want the last key b", both.Current())
	}
	got, err := both.Open(oldSealed, aad)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("new ring Open(old value) = %q, %v; want plaintext", got, err)
	}
	if !both.NeedsRotation(oldSealed) {
		t.Fatalf("NeedsRotation false for a value under the older key")
	}
	// Rotate: re-seal what needs it.
	newSealed, err := both.Seal(got, aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if id, err := KeyID(newSealed); err != nil || id != "b" {
		t.Fatalf("KeyID(new value) = %q, %v; want b", id, err)
	}
	if both.NeedsRotation(newSealed) {
		t.Fatalf("NeedsRotation true after re-sealing")
	}

	onlyNew := mustParse(t, "b:"+keyB)
	if _, err := onlyNew.Open(oldSealed, aad); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("ring without a: Open(old value) err = %v, want ErrUnknownKey", err)
	}
	if !onlyNew.NeedsRotation(oldSealed) {
		t.Fatalf("NeedsRotation false for a value under a dropped key; rotation would skip it silently")
	}
	got, err = onlyNew.Open(newSealed, aad)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("ring without a: Open(re-sealed value) = %q, %v", got, err)
	}
}

func TestKeyIDReadsTheHeaderAndRejectsMalformedValues(t *testing.T) {
	k := mustParse(t, "k_2-x:"+keyA)
	sealed, _ := k.Seal([]byte("x"), "")
	tests := []struct {
		sealed string
		want   string
		ok     bool
	}{
		{sealed, "k_2-x", true},
		{"", "", false},
		{"v1..AAAA", "", false},
		{"v1.A." + strings.TrimPrefix(sealed, "v1.k_2-x."), "", false},
		{"v1.k_2-x.short", "", false},
		{"v1.k_2-x." + strings.TrimPrefix(sealed, "v1.k_2-x.") + "=", "", false},
		{"v1.abcdefghijklmnopq." + strings.TrimPrefix(sealed, "v1.k_2-x."), "", false},
		{"V1.k_2-x." + strings.TrimPrefix(sealed, "v1.k_2-x."), "", false},
	}
	for _, tt := range tests {
		id, err := KeyID(tt.sealed)
		if tt.ok && (err != nil || id != tt.want) {
			t.Errorf("KeyID(%q) = %q, %v; want %q", tt.sealed, id, err, tt.want)
		}
		if !tt.ok && !errors.Is(err, ErrCorrupt) {
			t.Errorf("KeyID(%q) = %q, %v; want ErrCorrupt", tt.sealed, id, err)
		}
		if !tt.ok && k.NeedsRotation(tt.sealed) {
			t.Errorf("NeedsRotation(%q) true for a malformed value", tt.sealed)
		}
	}
}

func TestParseAcceptsStandardAndURLBase64PaddedOrNot(t *testing.T) {
	raw := keyRaw(t, keyA)
	ref := mustParse(t, "a:"+keyA)
	sealed, _ := ref.Seal([]byte("hello"), "aad")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		spec := " a:" + enc.EncodeToString(raw) + " "
		k, err := Parse(spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", spec, err)
		}
		if got, err := k.Open(sealed, "aad"); err != nil || string(got) != "hello" {
			t.Fatalf("key from %q does not open: %q, %v", spec, got, err)
		}
	}
}

func TestParseKeepsOrderNewestLast(t *testing.T) {
	k := mustParse(t, "b:"+keyB+" , a:"+keyA)
	if got := k.IDs(); strings.Join(got, ",") != "b,a" {
		t.Fatalf("IDs = %v, want [b a]", got)
	}
	if k.Current() != "a" {
		t.Fatalf("Current = %q, want a", k.Current())
	}
	s, _ := k.Seal([]byte("x"), "")
	if !strings.HasPrefix(s, "v1.a.") {
		t.Fatalf("Seal used %q, want newest key a", s)
	}
}

func TestParseErrorsNameProblemAndPositionButNoKeyText(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(keyRaw(t, keyA)[:16])
	long := base64.StdEncoding.EncodeToString(append(keyRaw(t, keyA), 1))
	tests := []struct {
		name string
		spec string
		want string
	}{
		{"empty", "", "empty"},
		{"blank", "  ", "empty"},
		{"trailing comma", "a:" + keyA + ",", "entry 2: empty"},
		{"no colon", keyA, "entry 1: want \"id:base64key\""},
		{"key where id belongs", keyB + ":" + keyA, "entry 1: key id must be"},
		{"uppercase id", "a:" + keyA + ",B:" + keyB, "entry 2: key id must be"},
		{"id too long", "abcdefghijklmnopq:" + keyA, "entry 1: key id must be"},
		{"empty id", ":" + keyA, "entry 1: key id must be"},
		{"dotted id", "a.b:" + keyA, "entry 1: key id must be"},
		{"duplicate id", "a:" + keyA + ",b:" + keyB + ",a:" + keyB, `entry 3: duplicate key id "a" (also entry 1)`},
		{"bad base64", "a:" + keyA[:20] + "*!" + keyA[22:], `entry 1: key "a" is not valid base64`},
		{"mixed alphabets", "a:+" + keyB[1:], `entry 1: key "a" is not valid base64`},
		{"bad padding", "a:" + keyA + "=", `entry 1: key "a" is not valid base64`},
		{"second colon", "a:b:" + keyA, `entry 1: key "a" is not valid base64`},
		{"empty key", "a:", `entry 1: key "a" decodes to 0 bytes, want 32`},
		{"16-byte key", "a:" + keyA + ",b:" + short, `entry 2: key "b" decodes to 16 bytes, want 32`},
		{"33-byte key", "a:" + long, `entry 1: key "a" decodes to 33 bytes, want 32`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Parse(tt.spec)
			if err == nil {
				t.Fatalf("Parse accepted %q: %v", tt.spec, k)
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("err = %v, want ErrInvalidSpec", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
			assertNoKeyText(t, err.Error(), keyA, keyB, short, long)
		})
	}
}

func TestFromEnvReadsHashcartDataKey(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	k, err := FromEnv(env(map[string]string{"HASHCART_DATA_KEY": "a:" + keyA + ",b:" + keyB}))
	if err != nil || k.Current() != "b" {
		t.Fatalf("FromEnv = %v, %v; want ring with current b", k, err)
	}
	for _, v := range []string{"", "   "} {
		if _, err := FromEnv(env(map[string]string{"HASHCART_DATA_KEY": v})); !errors.Is(err, ErrNoKey) {
			t.Errorf("FromEnv with %q: err = %v, want ErrNoKey", v, err)
		}
	}
	if _, err := FromEnv(env(nil)); !errors.Is(err, ErrNoKey) {
		t.Errorf("FromEnv unset: err = %v, want ErrNoKey", err)
	}
	_, err = FromEnv(env(map[string]string{"HASHCART_DATA_KEY": "a:" + keyA[:30]}))
	if !errors.Is(err, ErrInvalidSpec) || errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "HASHCART_DATA_KEY") {
		t.Fatalf("FromEnv with bad key: err = %v, want ErrInvalidSpec naming HASHCART_DATA_KEY", err)
	}
	assertNoKeyText(t, err.Error(), keyA[:30])
}

func TestGenerateMakesAFreshParsableKey(t *testing.T) {
	s1, err := Generate("k2")
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	s2, _ := Generate("k3")
	if !strings.HasPrefix(s1, "k2:") {
		t.Fatalf("Generate = %q, want k2: prefix", s1)
	}
	k := mustParse(t, "a:"+keyA+","+s1+","+s2)
	if k.Current() != "k3" {
		t.Fatalf("Current = %q, want k3", k.Current())
	}
	if strings.TrimPrefix(s1, "k2:") == strings.TrimPrefix(s2, "k3:") {
		t.Fatalf("Generate returned the same key twice")
	}
	// Different keys: a value sealed under k2 must not open if k3 is
	// relabelled as k2.
	k2 := mustParse(t, s1)
	sealed, _ := k2.Seal([]byte("x"), "")
	fake := mustParse(t, "k2:"+strings.TrimPrefix(s2, "k3:"))
	if _, err := fake.Open(sealed, ""); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a different generated key opened the value: %v", err)
	}
	for _, id := range []string{"", "K2", "a:b", "abcdefghijklmnopq", "a,b"} {
		if _, err := Generate(id); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("Generate(%q) err = %v, want ErrInvalidSpec", id, err)
		}
	}
}

func TestKeyringFormattingNeverShowsKeyBytes(t *testing.T) {
	k := mustParse(t, "a:"+keyA+",b:"+keyB)
	const want = "vault.Keyring{ids: a,b; current: b}"
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%T %v", "%p %v"} {
		for _, arg := range []any{k, *k, []any{k}, struct{ K *Keyring }{k}, map[string]Keyring{"k": *k}} {
			out := fmt.Sprintf(verb, arg)
			assertNoKeyText(t, out, keyA, keyB)
			if verb == "%v" || verb == "%+v" || verb == "%#v" || verb == "%s" {
				if !strings.Contains(out, want) {
					t.Errorf("Sprintf(%q, %T) = %q, want it to contain %q", verb, arg, out, want)
				}
			}
		}
	}
	if got := fmt.Sprint(k); got != want {
		t.Errorf("Sprint = %q, want %q", got, want)
	}
	if got := fmt.Sprintf("%d", *k); got != want {
		t.Errorf("Sprintf(%%d) of a Keyring value = %q, want %q", got, want)
	}

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		log := slog.New(h)
		log.Info("keys loaded", "keys", k, "value", *k, slog.Any("group", k))
		log.Info("keys", slog.Group("g", "k", k))
	}
	out := buf.String()
	assertNoKeyText(t, out, keyA, keyB)
	if !strings.Contains(out, "keys.ids=a,b") || !strings.Contains(out, `"ids":"a,b"`) {
		t.Errorf("slog output does not show the key ids:\n%s", out)
	}

	var nilRing *Keyring
	if got := fmt.Sprint(nilRing); got != "<nil>" && got != "vault.Keyring{no keys}" {
		t.Errorf("Sprint(nil) = %q", got)
	}
	if got := fmt.Sprint(&Keyring{}); got != "vault.Keyring{no keys}" {
		t.Errorf("Sprint(zero) = %q", got)
	}
}

func TestEmptyKeyringCannotSealOrOpen(t *testing.T) {
	full := mustParse(t, "a:"+keyA)
	sealed, _ := full.Seal([]byte("x"), "")
	for name, k := range map[string]*Keyring{"zero": {}, "nil": nil} {
		if _, err := k.Seal([]byte("x"), ""); !errors.Is(err, ErrNoKey) {
			t.Errorf("%s: Seal err = %v, want ErrNoKey", name, err)
		}
		if _, err := k.Open(sealed, ""); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%s: Open err = %v, want ErrUnknownKey", name, err)
		}
		if k.Current() != "" {
			t.Errorf("%s: Current = %q", name, k.Current())
		}
	}
}

func TestKeyringIsSafeForConcurrentUse(t *testing.T) {
	k := mustParse(t, "a:"+keyA+",b:"+keyB)
	old, _ := mustParse(t, "a:"+keyA).Seal([]byte("old"), "row")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				aad := fmt.Sprintf("buyer:%d:%d", g, i)
				s, err := k.Seal([]byte(aad), aad)
				if err != nil {
					errs <- err
					return
				}
				got, err := k.Open(s, aad)
				if err != nil || string(got) != aad {
					errs <- fmt.Errorf("round trip %q: %q, %v", aad, got, err)
					return
				}
				if got, err := k.Open(old, "row"); err != nil || string(got) != "old" {
					errs <- fmt.Errorf("open old: %q, %v", got, err)
					return
				}
				_ = k.String()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
