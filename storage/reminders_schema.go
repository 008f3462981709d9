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
