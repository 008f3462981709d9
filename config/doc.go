// Package config reads hashcart's YAML configuration file into one Config
// value, with defaults applied and every field checked.
//
// Load and Parse never stop at the first mistake: they return a *Problems
// listing every problem in the file, each with its line number and a hint,
// so an operator fixes the whole file in one pass. The set of allowed keys
// is derived from the yaml tags of the Go structs, so a field added to a
// struct is accepted by the checker with no further change.
//
// Scalar values may refer to the environment as ${VAR} or ${VAR:-default};
// the default is used when VAR is unset or empty. $${ writes a literal ${.
// An unset variable without a default is a problem naming the variable.
package config
