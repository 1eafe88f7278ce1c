// Package jsonstr appends strings to a buffer as JSON strings without
// allocating, for the hand-built JSON lines of the audit chain and of
// session recordings.
package jsonstr
