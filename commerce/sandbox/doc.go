// Package sandbox is hashcart's default payment provider: a hosted payment
// page that behaves like a real provider's without moving money.
//
// A payment starts with [Provider.StartPayment], which returns a session
// whose id is a signed, self-contained token (no table is needed). The page
// (served by package webhooks) decodes it with [Provider.Session], decides
// the card with [Provider.Charge] using the well-known test numbers
// ([TestCards]), and reports the result the way a real provider does: a
// signed event ([Provider.Event]) that the webhook checks with
// [Provider.VerifyEvent] before the order is touched.
//
// Card data is never stored, logged or put in an event: only the brand and
// the last four digits leave [Provider.Charge].
//
// A session is paid at most once: the charge id and event id of a successful
// charge are derived from the order's reference, so a double submission or
// a retry produces the same event, which the order store applies once.
package sandbox
