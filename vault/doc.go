// Package vault encrypts small secrets at rest, such as a buyer's shipping
// address and contact details, with AES-256-GCM under keys named by an id so
// that keys can rotate.
//
// The keys come from HASHCART_DATA_KEY ([EnvVar]), a comma-separated list of
// "id:base64key" entries with the newest key last; [Parse] and [FromEnv] read
// it into a [Keyring]. A Keyring seals with its newest key and opens values
// sealed with any of its keys, so an operator rotates by appending a new key,
// restarting, re-sealing every value for which [Keyring.NeedsRotation] holds
// (this is what `hashcart keys rotate` does), and only then dropping the old
// key. [Generate] makes a new entry for `hashcart keys new`.
//
// A sealed value is the text "v1.<keyid>.<base64url(nonce||ciphertext||tag)>"
// with a fresh random 12-byte nonce, so it fits in any text column. Each value
// is bound to an associated-data string chosen by the caller (for example
// "buyer:123:shipping"), so a ciphertext copied to another row or field fails
// to open with [ErrCorrupt] instead of revealing the wrong person's data.
//
// Key material never appears in errors, fmt output or slog output: a Keyring
// prints only its key ids.
package vault
