// Package inbox is hashcart's durable intake of X Account Activity events.
//
// A verified webhook delivery is split into its events (Split), each with a
// stable id. A Committer stores them exactly once, deduplicated by that id,
// and returns only after the storing transaction is durably committed, so
// the webhook may then acknowledge the delivery. Concurrent deliveries share
// one commit (group commit).
//
// Workers claim stored events and hand each to a Handler. The handler's
// database effects and the mark that the event is done commit in one
// transaction, so an event is processed exactly once even when a process
// dies between acknowledging and processing: its uncommitted work rolls back
// and the event is claimed again.
package inbox
