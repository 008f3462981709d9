package storage

// customersSchema keeps each buyer's customer at a payment provider (a
// reference, no personal data).
const customersSchema = `
CREATE TABLE provider_customers (
	provider     TEXT NOT NULL,
	buyer_id     TEXT NOT NULL,
	customer_ref TEXT NOT NULL,
	created_at   {{ts}} NOT NULL,
	PRIMARY KEY (provider, buyer_id)
);
`
