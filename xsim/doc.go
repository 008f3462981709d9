// Package xsim is an in-memory simulator of the parts of the X (Twitter) API
// that hashcart uses. It is a fake of X, never of hashcart: it speaks X's wire
// formats so that tests and the demo can run the real client code against it.
//
// A Server implements http.Handler; mount it on an httptest.Server (or any
// listener) and point a client's base URL at it. It serves:
//
//   - POST /2/tweets and POST /2/dm_conversations/with/{participant_id}/messages
//     (X API v2, JSON in and out, errors in the v2 problem format);
//   - POST /1.1/statuses/update.json (form body) and
//     POST /1.1/direct_messages/events/new.json (JSON body)
//     (X API v1.1, errors as {"errors":[{"code":..,"message":..}]});
//   - GET /2/users/{id}/tweets and GET /1.1/statuses/user_timeline.json: an
//     account's own posts, newest first, with time and id bounds and pages
//     (timeline.go), so a client can look for a post it may have sent;
//   - GET /2/dm_conversations/with/{participant_id}/dm_events: the messages
//     the caller sent to one participant;
//   - the Account Activity set-up: POST /oauth2/token (app bearer token),
//     /2/webhooks[/{id}], /2/account_activity/webhooks/{id}/subscriptions/...
//     and /1.1/account_activity/all/[{env}/]webhooks.json, .../subscriptions...
//     (activity.go). Registering and re-validating a webhook send a real CRC
//     challenge to its URL; the app-only calls want the bearer token.
//
// Every other endpoint requires an OAuth 1.0a "Authorization: OAuth ..." header whose
// oauth_consumer_key equals Options.ConsumerKey; the oauth_token is recorded as
// the author of the post or message. Signatures are parsed but not verified.
//
// Tests inject faults (RateLimitUntil, FailNext, CloseDMs), read what was
// published (Posts, DMs, WaitPosts, WaitDMs), and push Account Activity webhook
// events to the service under test with Deliver and the payload builders
// (TweetCreate, DirectMessage, Favorite, Follow), signed as X signs them;
// DeliverToSubscribers sends only to the webhooks a user is subscribed to, and
// Webhooks shows what was registered and which CRC challenges were answered.
package xsim
