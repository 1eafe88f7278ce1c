package analysis

import (
	"errors"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Options says how the server will lex the statement.
type Options struct {
	// StandardConformingStrings is the session's standard_conforming_strings.
	// When false, backslashes in ordinary string literals are escapes.
	StandardConformingStrings bool
}

// ErrParse wraps every error from the PostgreSQL parser.
var ErrParse = errors.New("parse")

// Analyze parses text (one Query message: zero or more statements) and
// returns one Statement per statement, in order. A text that does not parse
// returns an error wrapping ErrParse; the caller denies it.
//
// The text is parsed as the server would parse it under opts. Nothing in
// the result depends on the values of literal constants (only Text and, in
// a few non-expression positions such as FETCH counts, Fingerprint do), so
// texts that differ only in constants may share it.
func Analyze(text string, opts Options) ([]*Statement, error) {
	if strings.IndexByte(text, 0) >= 0 {
		return nil, &ParseError{Message: "query text contains a NUL byte"}
	}
	popts := parserOptions(opts)
	tree, err := parse(text, popts)
	if err != nil {
		return nil, err
	}
	out := make([]*Statement, 0, len(tree.Stmts))
	for _, raw := range tree.Stmts {
		start, end := int(raw.StmtLocation), int(raw.StmtLocation)+int(raw.StmtLen)
		if raw.StmtLen == 0 {
			end = len(text)
		}
		if start < 0 || start > end || end > len(text) {
			return nil, &ParseError{Message: "statement location out of range"}
		}
		st := &Statement{Text: text[start:end]}
		if st.Fingerprint, err = fingerprint(st.Text, popts); err != nil {
			return nil, err
		}
		analyzeStmt(st, raw.Stmt, opts.StandardConformingStrings)
		out = append(out, st)
	}
	return out, nil
}

// analyzeStmt fills st from the statement's tree.
func analyzeStmt(st *Statement, n *pg_query.Node, scs bool) {
	w := walker{st: st, text: st.Text, scs: scs, schema: defaultSchema}
	m := n.ProtoReflect()
	if inner := innerMessage(m); inner != nil {
		st.Command = command(inner)
	}
	w.msg(m, true)
	st.Kinds = w.kinds.list()
	st.TablesRead = set(w.read)
	st.TablesWritten = set(w.written)
	st.Functions = set(w.funcs)
	st.Settings = set(w.settings)
	provenance(st, n)
}

// set sorts s and removes duplicates; never nil, so that the JSON is [].
func set(s []string) []string {
	if len(s) == 0 {
		return []string{}
	}
	slices.Sort(s)
	return slices.Compact(s)
}
