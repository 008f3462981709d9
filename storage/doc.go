// Package storage implements hashcart's persistence with GORM on SQLite (the
// embedded default, through a pure-Go driver) and PostgreSQL (the scale-out
// store). It owns the schema (an ordered list of migrations in code), the
// connection pools and transactions, and implements the store interfaces that
// the domain packages (inbox, commerce, bot) declare.
//
// Transactions travel in the context: InTx runs a function with a context
// that carries the transaction, and every store method called with that
// context joins it. This lets a worker commit a handler's effects and the
// mark that the work is done in one transaction, without the domain code
// seeing a GORM type.
package storage
