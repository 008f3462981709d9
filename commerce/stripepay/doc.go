// Package stripepay is hashcart's Stripe payment provider, built on
// stripe-go. It implements commerce.PaymentProvider:
//
//   - [Provider.StartPayment] finds or creates one Stripe Customer per buyer
//     and opens a Checkout Session (mode payment, one line item, the order's
//     reference as client_reference_id, an idempotency key derived from the
//     reference) whose URL the buyer is redirected to;
//   - [Provider.ChargeSaved] charges a saved method off-session (one-tap
//     repeat buys) and reports commerce.ErrAuthenticationRequired when the
//     bank wants the buyer, who then gets a link instead;
//   - [Provider.Refund] refunds a PaymentIntent;
//   - [Provider.VerifyEvent] and [Provider.Outcome] check a webhook's
//     Stripe-Signature (300 s tolerance, against the injected clock) and turn
//     checkout.session.completed into a paid outcome and
//     checkout.session.expired into a released hold.
//
// Every request goes to the configured API base URL
// (payments.stripe.api_base_url): https://api.stripe.com in production,
// stripe-mock in tests. The package never falls back to a Stripe host of
// its own choosing.
package stripepay
