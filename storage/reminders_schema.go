package storage

// remindersSchema indexes the times reminder steps look at, so a tick reads
// only the carts and holds that crossed a step's threshold recently.
const remindersSchema = `
CREATE INDEX carts_open_by_update ON carts (updated_at) WHERE status = 'open';
CREATE INDEX holds_by_creation ON holds (created_at);
`

// reminderSkipsSchema records reminder steps decided against (sold out,
// ended), so that they are not looked at again and cannot hold back the
// candidates behind them.
const reminderSkipsSchema = `
CREATE TABLE reminder_skips (
	skip_key   TEXT PRIMARY KEY,
	created_at {{ts}} NOT NULL
);
`

// reminderOrdersSchema lets a reminder step find a buyer's orders with a
// merchant by buyer. Without it PostgreSQL, planning with the statistics of
// tables that had just been filled, walked every order of the merchant
// newer than each cart (orders_by_merchant_created), and a tick over 1,000
// carts took minutes.
const reminderOrdersSchema = `
CREATE INDEX orders_by_buyer_merchant ON orders (buyer_id, merchant_id, created_at);
`
