// Package outbox sends hashcart's messages to X: checkout links and
// confirmations by DM, replies to shoppers and public notices.
//
// A message is never sent from the code that decides it. The decision (a
// hold, a cart, an order) and its messages are written in one transaction
// (Store.Enqueue with the caller's transaction in the context), each under a
// unique Key naming its cause and kind, so one cause can never produce two
// messages and a rolled-back change produces none.
//
// A Sender's workers then claim due messages, lowest Priority first, and
// send them. Claiming commits a lease before any call to X, so no database
// transaction is held across the network; a message whose lease is held is
// sent by no one else. A sender that dies after X accepted a message but
// before it recorded so leaves the lease to expire; X has no idempotency
// key, so the next claim of such a message (Claimed.Lapsed) first looks for
// it at X (a DM in its conversation, a reply among the account's posts
// since the message was enqueued) and records the one found instead of
// sending again. If X cannot be asked, the message is sent: at least once.
//
// Every claim takes one unit of two rate budgets kept in the database and
// shared by all instances: the sending account's and the app's, each a count
// over a fixed window. A message that finds no budget stays pending. A 429
// from X blocks the account until X's reset; nothing is sent for it before.
// (Only the account: X limits posts and DMs per user, so other merchants
// keep sending.)
// Server and network errors are retried with exponential backoff and jitter;
// other refusals fail the message for good; a message still unsent after
// Config.MaxAge is given up with a log line and a Stats count.
//
// Sold-out notices of one offer share a Group. When more of them wait than
// the account's budget can answer, the whole group is replaced by its single
// Collapse message (one public post), so the losers of a busy drop hear the
// news within the budget instead of hours later.
package outbox
