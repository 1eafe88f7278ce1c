// Package catalog reads PostgreSQL's system catalogs on interlockd's own
// control connections (one per endpoint and database, opened lazily with a
// brokered credential), caching what it learns. The proxy uses it to name
// the function behind a FunctionCall message; column provenance for masking
// builds on it.
package catalog
