// Package config loads and validates interlockd's YAML configuration file.
// Unknown fields and wrong types are errors that name the line; Validate
// checks every field and fills defaults.
package config
