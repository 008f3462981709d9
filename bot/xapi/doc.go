// Package xapi is hashcart's client for the two X (Twitter) API calls the bot
// makes on a merchant's behalf: replying to a post and sending a direct
// message. Every request is signed with the merchant's OAuth 1.0a user-context
// Credentials.
//
// Two transports implement Client: NewV2 speaks X API v2 directly, NewV11
// speaks X API v1.1 through github.com/dghubble/go-twitter. Both take a base
// URL ("https://api.twitter.com" in production, an httptest server running
// xsim in tests) and an *http.Client whose Transport carries the requests.
//
// To close the window where a sender died after X accepted a message but
// before recording it, both clients can also list what the account sent:
// PostLister (its recent posts; v2 and v1.1) and DMLister (a conversation's
// messages; v2).
//
// Activity (NewActivity) sets up the Account Activity API for the app:
// registering the webhook (X sends it a CRC challenge first), re-validating,
// deleting it, and subscribing merchants' accounts, through v2 or v1.1.
// App-only calls use a bearer token obtained from the consumer key and
// secret; user-context calls are signed with the Credentials passed.
//
// Failures from X come back as *APIError; callers branch with IsRetryable,
// RateLimited and errors.Is(err, ErrDMClosed). Neither transport retries on
// its own: X has no idempotency key for posts or DMs, so whether a failed
// send is retried is the caller's decision. Nothing here logs, and
// Credentials never print their secrets.
package xapi
