package storage

// remindersSchema indexes the times reminder steps look at, so a tick reads
// only the carts and holds that crossed a step's threshold recently.
const remindersSchema = `
CREATE INDEX carts_open_by_update ON carts (updated_at) WHERE status = 'open';
CREATE INDEX holds_by_creation ON holds (created_at);
`
