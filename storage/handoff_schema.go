package storage

// handoffSchema creates the queue of order deliveries to merchants. A row
// holds only the order id: the body, which carries the buyer's address, is
// built when it is sent, so it is never stored in the clear.
const handoffSchema = `
CREATE TABLE merchant_deliveries (
	id              {{pk}},
	delivery_id     TEXT NOT NULL,
	merchant_id     TEXT NOT NULL,
	order_id        {{bigint}} NOT NULL,
	status          TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	next_attempt_at {{ts}} NOT NULL,
	lease_until     {{ts}},
	created_at      {{ts}} NOT NULL,
	delivered_at    {{ts}}
);
CREATE UNIQUE INDEX merchant_deliveries_id ON merchant_deliveries (delivery_id);
CREATE INDEX merchant_deliveries_due ON merchant_deliveries (next_attempt_at, id) WHERE status = 'pending';
`
