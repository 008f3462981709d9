package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// EnvVar is the environment variable [FromEnv] reads the key spec from.
const EnvVar = "HASHCART_DATA_KEY"

// KeySize is the length in bytes of every key: AES-256.
const KeySize = 32

// version is the prefix of every sealed value; a new format gets a new one.
const version = "v1"

// maxIDLen is the longest key id Parse accepts.
const maxIDLen = 16

// nonceSize and tagSize are those of AES-GCM as built by
// cipher.NewGCMWithRandomNonce; a payload shorter than both together cannot
// be a sealed value.
const (
	nonceSize = 12
	tagSize   = 16
)

// Errors callers branch on. Their text never contains key material or
// plaintext.
var (
	// ErrNoKey means no key is configured: HASHCART_DATA_KEY is unset or
	// blank, or the Keyring is empty.
	ErrNoKey = errors.New("no data key configured")
	// ErrUnknownKey means a sealed value names a key id the Keyring does not
	// hold (the key was dropped before the value was re-sealed).
	ErrUnknownKey = errors.New("unknown data key id")
	// ErrCorrupt means a sealed value is malformed, was altered, or was
	// sealed for different associated data (another row or field).
	ErrCorrupt = errors.New("sealed value is corrupt")
	// ErrInvalidSpec means a key spec (HASHCART_DATA_KEY) or a key id is
	// malformed; the wrapping error names the entry by position.
	ErrInvalidSpec = errors.New("invalid data key spec")
)

// sealedEncoding encodes sealed payloads. Strict, so each payload has exactly
// one text form and changing any character is detected.
var sealedEncoding = base64.RawURLEncoding.Strict()

// Keyring encrypts with its newest key and decrypts with any of its keys.
//
// A Keyring is immutable once built by [Parse] or [FromEnv], so it is safe
// for concurrent use. Printing it with fmt (any verb) or logging it with
// log/slog shows only its key ids, never key bytes. The zero Keyring holds no
// keys: Seal returns [ErrNoKey] and Open returns [ErrUnknownKey].
type Keyring struct {
	ids   []string               // oldest first; the last is the current key
	aeads map[string]cipher.AEAD // by key id
}

// Parse reads a key spec in HASHCART_DATA_KEY's format: one or more
// "id:base64key" entries separated by commas, newest LAST, for example
// "k1:BASE64,k2:BASE64". Spaces around entries are ignored. Ids are 1 to 16
// characters of a-z, 0-9, '_' and '-', and unique. Each key is standard or
// URL-safe base64, padded or not, and decodes to exactly 32 bytes.
//
// Errors wrap [ErrInvalidSpec], name the problem and the 1-based entry
// position (and the id once it is known to be valid), and never contain key
// text.
func Parse(spec string) (*Keyring, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSpec)
	}
	entries := strings.Split(spec, ",")
	k := &Keyring{
		ids:   make([]string, 0, len(entries)),
		aeads: make(map[string]cipher.AEAD, len(entries)),
	}
	seen := make(map[string]int, len(entries))
	for i, entry := range entries {
		pos := i + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("%w: entry %d: empty", ErrInvalidSpec, pos)
		}
		id, encoded, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("%w: entry %d: want \"id:base64key\", found no ':'", ErrInvalidSpec, pos)
		}
		// The id is not echoed when invalid: a mangled entry may put key
		// text where the id belongs.
		if !validID(id) {
			return nil, fmt.Errorf("%w: entry %d: key id must be 1 to %d characters of a-z 0-9 _ -", ErrInvalidSpec, pos, maxIDLen)
		}
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("%w: entry %d: duplicate key id %q (also entry %d)", ErrInvalidSpec, pos, id, prev)
		}
		seen[id] = pos
		raw, ok := decodeKey(encoded)
		if !ok {
			return nil, fmt.Errorf("%w: entry %d: key %q is not valid base64 (standard or URL alphabet)", ErrInvalidSpec, pos, id)
		}
		if len(raw) != KeySize {
			n := len(raw)
			clear(raw)
			return nil, fmt.Errorf("%w: entry %d: key %q decodes to %d bytes, want %d", ErrInvalidSpec, pos, id, n, KeySize)
		}
		aead, err := newAEAD(raw)
		clear(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: key %q: cannot build cipher", ErrInvalidSpec, pos, id)
		}
		k.ids = append(k.ids, id)
		k.aeads[id] = aead
	}
	return k, nil
}

// FromEnv reads the key spec from HASHCART_DATA_KEY through getenv (pass
// os.Getenv in production, a map lookup in tests). When the variable is unset
// or blank it returns [ErrNoKey], and the caller decides what to do (the demo
// may generate an ephemeral key and warn; production should refuse to
// start). Otherwise it returns what [Parse] returns, with errors prefixed by
// the variable name.
func FromEnv(getenv func(string) string) (*Keyring, error) {
	spec := getenv(EnvVar)
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("%s: %w", EnvVar, ErrNoKey)
	}
	k, err := Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvVar, err)
	}
	return k, nil
}

// Generate returns a new key spec entry "id:base64key" with 32 bytes from
// crypto/rand in standard padded base64, for operators (`hashcart keys new`).
// Append it to HASHCART_DATA_KEY with a comma to make it the newest key. The
// id must be valid for [Parse]; otherwise the error wraps [ErrInvalidSpec].
func Generate(id string) (string, error) {
	if !validID(id) {
		return "", fmt.Errorf("%w: key id must be 1 to %d characters of a-z 0-9 _ -", ErrInvalidSpec, maxIDLen)
	}
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	spec := id + ":" + base64.StdEncoding.EncodeToString(raw)
	clear(raw)
	return spec, nil
}

// Current returns the id of the newest key, the one Seal uses; "" for an
// empty or nil Keyring.
func (k *Keyring) Current() string {
	if k == nil || len(k.ids) == 0 {
		return ""
	}
	return k.ids[len(k.ids)-1]
}

// IDs returns the key ids the Keyring holds, oldest first (a new slice).
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.ids...)
}

// Seal encrypts plaintext with the newest key, bound to aad (for example
// "buyer:123:shipping", so the value cannot be moved to another row or field
// and still open). The result is the text "v1.<keyid>.<base64url>" where the
// base64url (unpadded) part is a fresh random 12-byte nonce, the ciphertext
// and the 16-byte tag; two seals of the same plaintext differ. It returns
// [ErrNoKey] when the Keyring holds no key.
//
// With random nonces one key should seal well under 2^32 values; rotate
// before that (a shop's addresses are far below it).
func (k *Keyring) Seal(plaintext []byte, aad string) (string, error) {
	id := k.Current()
	if id == "" {
		return "", fmt.Errorf("seal: %w", ErrNoKey)
	}
	header := version + "." + id + "."
	// The AEAD prepends its own fresh random nonce.
	payload := k.aeads[id].Seal(nil, nil, plaintext, additionalData(header, aad))
	return header + sealedEncoding.EncodeToString(payload), nil
}

// Open decrypts a value made by Seal with the key it names and the same aad.
// It returns [ErrUnknownKey] when that key id is not in the Keyring, and
// [ErrCorrupt] when the value is malformed, altered in any byte, or was sealed
// with different aad. The plaintext is a new slice the caller owns.
func (k *Keyring) Open(sealed string, aad string) ([]byte, error) {
	id, payload, err := parseSealed(sealed)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	var aead cipher.AEAD
	if k != nil {
		aead = k.aeads[id]
	}
	if aead == nil {
		return nil, fmt.Errorf("open: %w %q", ErrUnknownKey, id)
	}
	plaintext, err := aead.Open(nil, nil, payload, additionalData(version+"."+id+".", aad))
	if err != nil {
		return nil, fmt.Errorf("open: %w: authentication failed (altered, or sealed for other data)", ErrCorrupt)
	}
	if plaintext == nil {
		plaintext = []byte{}
	}
	return plaintext, nil
}

// KeyID returns the id of the key a sealed value was written with, without
// decrypting it; [ErrCorrupt] when the value is not well-formed. Rotation
// re-seals values whose KeyID differs from [Keyring.Current].
func KeyID(sealed string) (string, error) {
	id, _, err := parseSealed(sealed)
	if err != nil {
		return "", err
	}
	return id, nil
}

// NeedsRotation reports whether sealed is a well-formed value written with a
// key other than the current one. That includes keys no longer in the
// Keyring, so a rotation pass surfaces them as [ErrUnknownKey] from Open
// rather than skipping them. It is false for malformed values and for values
// already under the current key.
func (k *Keyring) NeedsRotation(sealed string) bool {
	id, err := KeyID(sealed)
	if err != nil {
		return false
	}
	return id != k.Current()
}

// String describes the Keyring by its key ids, for example
// "vault.Keyring{ids: k1,k2; current: k2}". It never includes key bytes.
func (k *Keyring) String() string {
	if k == nil || len(k.ids) == 0 {
		return "vault.Keyring{no keys}"
	}
	return "vault.Keyring{ids: " + strings.Join(k.ids, ",") + "; current: " + k.Current() + "}"
}

// GoString is String, so %#v never shows key bytes either.
func (k *Keyring) GoString() string { return k.String() }

// LogValue makes log/slog record only the key ids and the current id.
func (k *Keyring) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("ids", strings.Join(k.IDs(), ",")),
		slog.String("current", k.Current()),
	)
}

// Format prints the Keyring as String for every fmt verb, including %d, %x
// and %#v, which would otherwise print the cipher state. It has a value
// receiver so a Keyring value (not only a pointer) is covered too.
func (k Keyring) Format(f fmt.State, verb rune) {
	_, _ = io.WriteString(f, k.String())
}

// newAEAD builds AES-256-GCM with a random 12-byte nonce prepended to each
// ciphertext.
func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// additionalData binds a value to its header (version and key id) as well as
// the caller's aad. The header ends in '.', which ids cannot contain, so the
// concatenation is unambiguous.
func additionalData(header, aad string) []byte {
	return []byte(header + aad)
}

// parseSealed splits "v1.<keyid>.<base64url>" into the key id and the
// decoded payload; every error wraps ErrCorrupt.
func parseSealed(sealed string) (id string, payload []byte, err error) {
	rest, ok := strings.CutPrefix(sealed, version+".")
	if !ok {
		return "", nil, fmt.Errorf("%w: not a %s sealed value", ErrCorrupt, version)
	}
	id, encoded, ok := strings.Cut(rest, ".")
	if !ok || !validID(id) {
		return "", nil, fmt.Errorf("%w: bad key id", ErrCorrupt)
	}
	// The decoder skips CR and LF; refuse them so one value has one text.
	if strings.ContainsAny(encoded, "\r\n") {
		return "", nil, fmt.Errorf("%w: bad base64", ErrCorrupt)
	}
	payload, err = sealedEncoding.DecodeString(encoded)
	if err != nil {
		return "", nil, fmt.Errorf("%w: bad base64", ErrCorrupt)
	}
	if len(payload) < nonceSize+tagSize {
		return "", nil, fmt.Errorf("%w: too short", ErrCorrupt)
	}
	return id, payload, nil
}

// validID reports whether id is 1 to maxIDLen characters of a-z 0-9 _ -.
func validID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// decodeKey decodes standard or URL-safe base64, padded or not. Padded input
// must be padded correctly.
func decodeKey(s string) ([]byte, bool) {
	encodings := []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding}
	if strings.HasSuffix(s, "=") {
		encodings = []*base64.Encoding{base64.StdEncoding, base64.URLEncoding}
	}
	for _, enc := range encodings {
		if raw, err := enc.DecodeString(s); err == nil {
			return raw, true
		}
	}
	return nil, false
}
