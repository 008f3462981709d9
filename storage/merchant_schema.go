package storage

// merchantPageSchema records what the merchant page's funnel counts and
// indexes what it reads by merchant and time:
//
//   - offer_replies: one row per reply the bot matched to an offer (keyed
//     by the X event, so a reprocessed event counts once);
//   - holds.link_opened_at: when the buyer first opened the hold's checkout
//     page (NULL: never);
//   - reminder DMs found by merchant and time (a partial index over the
//     outbox rows whose key starts with "reminder:").
const merchantPageSchema = `
CREATE TABLE offer_replies (
	event_id    TEXT PRIMARY KEY,
	merchant_id TEXT NOT NULL,
	offer_id    TEXT NOT NULL,
	buyer_id    TEXT NOT NULL,
	intent      TEXT NOT NULL,
	created_at  {{ts}} NOT NULL
);
CREATE INDEX offer_replies_by_merchant ON offer_replies (merchant_id, created_at);
ALTER TABLE holds ADD COLUMN link_opened_at {{ts}};
CREATE INDEX holds_by_merchant ON holds (merchant_id, created_at);
CREATE INDEX orders_by_merchant_created ON orders (merchant_id, created_at);
CREATE INDEX outbox_messages_reminders ON outbox_messages (merchant_id, created_at) WHERE msg_key LIKE 'reminder:%';
`
