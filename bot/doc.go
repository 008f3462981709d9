// Package bot reads posts and DMs addressed to merchants, decides what to
// answer, and writes the answers to the outbox, from which they are sent to X.
//
// Reading starts with Parse, a pure function that turns the text of a reply
// or DM into a Post: its hashtags, mentions, stated quantity, remaining words
// and, for DMs, its command word, all normalized (NFKC, case folded) so that
// "#BuyNow", "#buynow" and "＃ＢｕｙＮｏｗ" read the same while "#BuyNowPlease"
// does not. Parse only extracts; matching tags, variants and keywords against
// offers is the commerce package's job, and deciding which events to read at
// all (the merchant's own posts, retweets, quotes) is done on the event, not
// on its text.
package bot
