package analysis

import (
	"errors"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Copy describes one COPY statement's data format, as the proxy needs it to
// parse (and mask) the CopyData stream. Its fields are constants of the
// statement text, so it is never part of the cached Statement: call
// CopyOptions for each COPY execution.
type Copy struct {
	// From is true for COPY FROM (data enters the database), false for
	// COPY TO.
	From bool
	// Table is the relation ("schema.table") of COPY t; empty for
	// COPY (query). Columns is its column list, nil when none is given.
	Table   string
	Columns []string
	// Query is true for COPY (query) TO.
	Query bool
	// Format is "text", "csv" or "binary".
	Format string
	// Delimiter, Null, Quote and Escape, with the server's defaults filled
	// in: text: tab and `\N`; csv: ",", "", `"` and the quote. Quote and
	// Escape are empty in text and binary format.
	Delimiter, Null, Quote, Escape string
	// Header is true when the first line is a header; HeaderMatch for
	// HEADER MATCH (COPY FROM only).
	Header, HeaderMatch bool
	// Encoding is the ENCODING option, empty for the client encoding.
	Encoding string
	// ForceQuote lists the columns FORCE_QUOTE quotes; ForceQuoteAll is
	// FORCE_QUOTE *.
	ForceQuote    []string
	ForceQuoteAll bool
}

// ErrNotCopy is returned by CopyOptions for a text that is not exactly one
// COPY statement.
var ErrNotCopy = errors.New("not a single COPY statement")

// CopyOptions parses one COPY statement and returns its format options. An
// option the server would reject (an unknown format, a repeated option, a
// malformed value) is an error: the server refuses such a COPY, and the
// proxy should not guess how to parse its data.
func CopyOptions(text string, opts Options) (*Copy, error) {
	if strings.IndexByte(text, 0) >= 0 {
		return nil, &ParseError{Message: "query text contains a NUL byte"}
	}
	tree, err := parse(text, parserOptions(opts))
	if err != nil {
		return nil, err
	}
	if len(tree.Stmts) != 1 || tree.Stmts[0].GetStmt().GetCopyStmt() == nil {
		return nil, ErrNotCopy
	}
	x := tree.Stmts[0].GetStmt().GetCopyStmt()
	c := &Copy{From: x.IsFrom, Query: x.Query != nil, Columns: strList(x.Attlist), Format: "text"}
	if x.Relation != nil {
		c.Table = relName(x.Relation, defaultSchema)
	}
	seen := make(map[string]bool, len(x.Options))
	var delim, null, quote, escape *string
	for _, o := range x.Options {
		d := o.GetDefElem()
		if d == nil {
			return nil, fmt.Errorf("copy options: unexpected option node")
		}
		if seen[d.Defname] {
			return nil, fmt.Errorf("copy options: option %q given twice", d.Defname)
		}
		seen[d.Defname] = true
		switch d.Defname {
		case "format":
			s, err := defString(d)
			if err != nil {
				return nil, err
			}
			switch s {
			case "text", "csv", "binary":
				c.Format = s
			default:
				return nil, fmt.Errorf("copy options: format %q not recognized", s)
			}
		case "delimiter", "null", "quote", "escape", "encoding":
			s, err := defString(d)
			if err != nil {
				return nil, err
			}
			switch d.Defname {
			case "delimiter":
				delim = &s
			case "null":
				null = &s
			case "quote":
				quote = &s
			case "escape":
				escape = &s
			default:
				c.Encoding = s
			}
		case "header":
			if s := d.Arg.GetString_(); s != nil && strings.EqualFold(s.Sval, "match") {
				c.Header, c.HeaderMatch = true, true
				continue
			}
			b, err := defBool(d)
			if err != nil {
				return nil, err
			}
			c.Header = b
		case "force_quote":
			if d.Arg.GetAStar() != nil {
				c.ForceQuoteAll = true
				continue
			}
			c.ForceQuote = strList(d.Arg.GetList().GetItems())
		case "force_not_null", "force_null", "freeze", "default", "on_error", "log_verbosity":
			// COPY FROM only; they do not change how the data is read.
		default:
			return nil, fmt.Errorf("copy options: option %q not recognized", d.Defname)
		}
	}
	switch c.Format {
	case "csv":
		c.Delimiter, c.Null, c.Quote = ",", "", `"`
	case "text":
		c.Delimiter, c.Null = "\t", `\N`
	}
	if c.Format != "binary" {
		if delim != nil {
			c.Delimiter = *delim
		}
		if null != nil {
			c.Null = *null
		}
	}
	if c.Format == "csv" {
		if quote != nil {
			c.Quote = *quote
		}
		c.Escape = c.Quote
		if escape != nil {
			c.Escape = *escape
		}
	}
	return c, nil
}

// defString returns a string option's value.
func defString(d *pg_query.DefElem) (string, error) {
	if s := d.Arg.GetString_(); s != nil {
		return s.Sval, nil
	}
	return "", fmt.Errorf("copy options: %s requires a string value", d.Defname)
}

// defBool interprets a boolean option as the server's defGetBoolean does.
func defBool(d *pg_query.DefElem) (bool, error) {
	switch a := d.Arg.GetNode().(type) {
	case nil:
		return true, nil
	case *pg_query.Node_Boolean:
		return a.Boolean.Boolval, nil
	case *pg_query.Node_Integer:
		switch a.Integer.Ival {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
	case *pg_query.Node_String_:
		switch strings.ToLower(a.String_.Sval) {
		case "true", "on":
			return true, nil
		case "false", "off":
			return false, nil
		}
	}
	return false, fmt.Errorf("copy options: %s requires a Boolean value", d.Defname)
}
