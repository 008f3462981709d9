package storage

// commerceSchema creates buyers, stock counters, holds, carts and link
// tokens. Booleans are INTEGER 0/1 on both databases.
const commerceSchema = `
CREATE TABLE buyers (
	x_user_id           TEXT PRIMARY KEY,
	screen_name         TEXT NOT NULL DEFAULT '',
	reminders_off       INTEGER NOT NULL DEFAULT 0,
	pending_question    TEXT NOT NULL DEFAULT '',
	question_expires_at {{ts}},
	created_at          {{ts}} NOT NULL,
	updated_at          {{ts}} NOT NULL
);
CREATE TABLE stock (
	merchant_id TEXT NOT NULL,
	offer_id    TEXT NOT NULL,
	variant     TEXT NOT NULL,
	total       INTEGER,
	held        INTEGER NOT NULL DEFAULT 0,
	sold        INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (merchant_id, offer_id, variant),
	CHECK (held >= 0 AND sold >= 0),
	CHECK (total IS NULL OR held + sold <= total)
);
CREATE TABLE holds (
	id          {{pk}},
	merchant_id TEXT NOT NULL,
	offer_id    TEXT NOT NULL,
	variant     TEXT NOT NULL,
	stock_key   TEXT NOT NULL,
	buyer_id    TEXT NOT NULL,
	quantity    INTEGER NOT NULL CHECK (quantity > 0),
	unit_amount {{bigint}} NOT NULL,
	currency    TEXT NOT NULL,
	status      TEXT NOT NULL,
	created_at  {{ts}} NOT NULL,
	expires_at  {{ts}} NOT NULL,
	updated_at  {{ts}} NOT NULL
);
CREATE UNIQUE INDEX holds_one_active ON holds (merchant_id, offer_id, buyer_id) WHERE status = 'active';
CREATE INDEX holds_by_buyer ON holds (buyer_id, merchant_id, offer_id, status);
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'active';
CREATE TABLE carts (
	id          {{pk}},
	merchant_id TEXT NOT NULL,
	buyer_id    TEXT NOT NULL,
	status      TEXT NOT NULL,
	created_at  {{ts}} NOT NULL,
	updated_at  {{ts}} NOT NULL
);
CREATE UNIQUE INDEX carts_one_open ON carts (merchant_id, buyer_id) WHERE status = 'open';
CREATE TABLE cart_items (
	id          {{pk}},
	cart_id     {{bigint}} NOT NULL REFERENCES carts (id),
	offer_id    TEXT NOT NULL,
	variant     TEXT NOT NULL,
	title       TEXT NOT NULL,
	quantity    INTEGER NOT NULL CHECK (quantity > 0),
	unit_amount {{bigint}} NOT NULL,
	currency    TEXT NOT NULL,
	created_at  {{ts}} NOT NULL,
	updated_at  {{ts}} NOT NULL
);
CREATE UNIQUE INDEX cart_items_line ON cart_items (cart_id, offer_id, variant);
CREATE TABLE link_tokens (
	hash        TEXT PRIMARY KEY,
	buyer_id    TEXT NOT NULL,
	target_kind TEXT NOT NULL,
	target_id   {{bigint}} NOT NULL,
	created_at  {{ts}} NOT NULL,
	expires_at  {{ts}} NOT NULL,
	used_at     {{ts}}
);
CREATE INDEX link_tokens_target ON link_tokens (target_kind, target_id);
`

// holdsExpirySchema narrows the expiry index to lookups that bound
// expires_at. On PostgreSQL a prepared statement settles on a generic plan
// after five runs; while the holds table is still small (a new install's
// first drop) the plan for "this buyer's active hold" costed the expiry
// index the same as holds_one_active and could take it, then scanned every
// active hold on each run (5 ms at 2,000 holds, 1,300 buffers). "expires_at
// IS NOT NULL" is implied by every comparison on expires_at (release,
// latest active hold), and by no lookup that leaves it out, on PostgreSQL
// and SQLite alike.
const holdsExpirySchema = `
DROP INDEX holds_active_expiry;
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;
`
