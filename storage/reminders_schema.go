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

// reminderCursorSchema orders the reminder indexes by time and then row id,
// the order a run's batches walk in (commerce.ReminderCursor): each batch
// reads on from the last one's cursor, and with the id in the index
// PostgreSQL returns the candidates in that order and stops at the
// batch's limit, rather than sorting every candidate of the window for
// each batch. (A SQLite index ends with the rowid anyway.)
const reminderCursorSchema = `
CREATE INDEX carts_open_by_update_id ON carts (updated_at, id) WHERE status = 'open';
DROP INDEX carts_open_by_update;
CREATE INDEX holds_by_creation_id ON holds (created_at, id);
DROP INDEX holds_by_creation;
`
