package storage

// ordersSchema creates orders, their items and timelines, the applied
// payment events (dedupe), and buyers' saved details. Addresses and
// contacts are stored only sealed (AES-256-GCM, see Sealer).
const ordersSchema = `
CREATE TABLE orders (
	id              {{pk}},
	merchant_id     TEXT NOT NULL,
	buyer_id        TEXT NOT NULL,
	hold_id         {{bigint}} NOT NULL,
	status          TEXT NOT NULL,
	total_amount    {{bigint}} NOT NULL,
	currency        TEXT NOT NULL,
	shipping_sealed TEXT NOT NULL,
	contact_sealed  TEXT NOT NULL,
	provider        TEXT NOT NULL DEFAULT '',
	payment_ref     TEXT NOT NULL DEFAULT '',
	method_brand    TEXT NOT NULL DEFAULT '',
	method_last4    TEXT NOT NULL DEFAULT '',
	created_at      {{ts}} NOT NULL,
	updated_at      {{ts}} NOT NULL,
	paid_at         {{ts}}
);
CREATE UNIQUE INDEX orders_one_per_hold ON orders (hold_id);
CREATE INDEX orders_by_buyer ON orders (buyer_id, id);
CREATE INDEX orders_by_merchant ON orders (merchant_id, id);
CREATE TABLE order_items (
	id          {{pk}},
	order_id    {{bigint}} NOT NULL REFERENCES orders (id),
	offer_id    TEXT NOT NULL,
	title       TEXT NOT NULL,
	variant     TEXT NOT NULL,
	quantity    INTEGER NOT NULL CHECK (quantity > 0),
	unit_amount {{bigint}} NOT NULL,
	currency    TEXT NOT NULL
);
CREATE INDEX order_items_by_order ON order_items (order_id);
CREATE TABLE order_events (
	id       {{pk}},
	order_id {{bigint}} NOT NULL REFERENCES orders (id),
	at       {{ts}} NOT NULL,
	status   TEXT NOT NULL,
	note     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX order_events_by_order ON order_events (order_id, id);
CREATE TABLE payment_events (
	event_id    TEXT PRIMARY KEY,
	order_id    {{bigint}} NOT NULL,
	paid        INTEGER NOT NULL,
	received_at {{ts}} NOT NULL
);
CREATE TABLE buyer_details (
	buyer_id        TEXT PRIMARY KEY,
	shipping_sealed TEXT NOT NULL DEFAULT '',
	contact_sealed  TEXT NOT NULL DEFAULT '',
	provider        TEXT NOT NULL DEFAULT '',
	customer_ref    TEXT NOT NULL DEFAULT '',
	method_ref      TEXT NOT NULL DEFAULT '',
	method_brand    TEXT NOT NULL DEFAULT '',
	method_last4    TEXT NOT NULL DEFAULT '',
	updated_at      {{ts}} NOT NULL
);
`
