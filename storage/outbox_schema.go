package storage

// outboxSchema creates the outbox tables (messages to X and the shared rate budgets).
//
// outbox_messages holds every message with its status; msg_key makes one
// cause produce at most one message. The follow-up messages (collapse,
// on_sent, on_dm_closed) are stored as JSON, empty when absent. A link is
// stored as its parameters; the minted secret never is.
//
// outbox_budgets holds one fixed-window counter per budget key ('app',
// 'account:<merchant>') and the time until which a 429 blocks it.
const outboxSchema = `
CREATE TABLE outbox_messages (
	id              {{pk}},
	msg_key         TEXT NOT NULL,
	merchant_id     TEXT NOT NULL,
	kind            TEXT NOT NULL,
	priority        INTEGER NOT NULL,
	recipient_id    TEXT NOT NULL DEFAULT '',
	in_reply_to     TEXT NOT NULL DEFAULT '',
	body            TEXT NOT NULL,
	link_buyer_id   TEXT NOT NULL DEFAULT '',
	link_kind       TEXT NOT NULL DEFAULT '',
	link_target_id  {{bigint}} NOT NULL DEFAULT 0,
	link_expires_at {{ts}},
	grp             TEXT NOT NULL DEFAULT '',
	collapse        TEXT NOT NULL DEFAULT '',
	on_sent         TEXT NOT NULL DEFAULT '',
	on_dm_closed    TEXT NOT NULL DEFAULT '',
	status          TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	claims          INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	x_id            TEXT NOT NULL DEFAULT '',
	created_at      {{ts}} NOT NULL,
	next_attempt_at {{ts}} NOT NULL,
	lease_until     {{ts}},
	finished_at     {{ts}}
);
CREATE UNIQUE INDEX outbox_messages_key ON outbox_messages (msg_key);
CREATE INDEX outbox_messages_due ON outbox_messages (priority, id) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_messages_group ON outbox_messages (grp, status) WHERE grp <> '';
CREATE INDEX outbox_messages_merchant ON outbox_messages (merchant_id, priority) WHERE status = 'pending';
CREATE TABLE outbox_budgets (
	budget_key    TEXT PRIMARY KEY,
	window_start  {{ts}} NOT NULL,
	used          INTEGER NOT NULL DEFAULT 0,
	blocked_until {{ts}}
);
`

// outboxXIDSchema finds sent messages by their X id: a sender looking at X
// for a lapsed message leaves out what X lists under ids already recorded
// (outbox.SentLookup).
const outboxXIDSchema = `
CREATE INDEX outbox_messages_by_xid ON outbox_messages (x_id) WHERE x_id <> '';
`

// outboxReadySchema lets a claim pass read only the messages that are due.
// outbox_messages_due orders every waiting message by priority and id, and
// a pass read it from the start, looking up each row's next attempt, until
// it had enough due ones: with messages waiting out a retry backoff (X
// answering 500 during a drop) a pass read all of them, 2 ms at 5,000, and
// the sender runs passes back to back. Here a pass reads, priority by
// priority, the due rows and no others; leases run out in their own index.
const outboxReadySchema = `
CREATE INDEX outbox_messages_ready ON outbox_messages (priority, next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_messages_leased ON outbox_messages (lease_until) WHERE status = 'sending';
`
