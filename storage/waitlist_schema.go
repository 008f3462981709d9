package storage

// waitlistSchema creates the drop waitlists.
const waitlistSchema = `
CREATE TABLE waitlist (
	id          {{pk}},
	merchant_id TEXT NOT NULL,
	offer_id    TEXT NOT NULL,
	variant     TEXT NOT NULL,
	stock_key   TEXT NOT NULL,
	buyer_id    TEXT NOT NULL,
	screen_name TEXT NOT NULL DEFAULT '',
	quantity    INTEGER NOT NULL CHECK (quantity > 0),
	reply_to    TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL,
	hold_id     {{bigint}},
	created_at  {{ts}} NOT NULL,
	updated_at  {{ts}} NOT NULL
);
CREATE UNIQUE INDEX waitlist_one_per_buyer ON waitlist (merchant_id, offer_id, buyer_id) WHERE status = 'waiting';
CREATE INDEX waitlist_queue ON waitlist (merchant_id, offer_id, stock_key, id) WHERE status = 'waiting';
`
