package analysis

import pg_query "github.com/pganalyze/pg_query_go/v6"

// copyStmt: COPY t FROM writes t; COPY t TO reads t; COPY (query) TO has
// the query's kinds and tables. A server file or PROGRAM is external.
func (w *walker) copyStmt(x *pg_query.CopyStmt) {
	if x.IsFrom {
		w.kinds |= kCopyFrom
		w.write(x.Relation)
	} else {
		w.kinds |= kCopyTo
		w.readTarget(x.Relation)
	}
	w.node(x.Query, true)
	w.nodes(x.Options)
	w.node(x.WhereClause, false)
	if x.IsProgram || x.Filename != "" || !copyIsStdio(w.text, w.scs) {
		w.st.CopyExternal = true
	}
}

// copyIsStdio reports whether the COPY statement text names STDIN or
// STDOUT as its file. The parse tree cannot tell: an empty file name
// decodes as no file name, the same as STDIN/STDOUT, and an empty string
// shares a cache key with '/etc/x', so the tokens decide. The file name is
// the token after the first TO or FROM outside parentheses (PROGRAM, if
// present, is handled by the caller). Anything unexpected counts as a file.
func copyIsStdio(text string, scs bool) bool {
	toks, err := scan(text, scs)
	if err != nil {
		return false
	}
	depth := 0
	for i, t := range toks {
		switch t.Token {
		case pg_query.Token_ASCII_40:
			depth++
		case pg_query.Token_ASCII_41:
			depth--
		case pg_query.Token_TO, pg_query.Token_FROM:
			if depth != 0 {
				continue
			}
			if i+1 >= len(toks) {
				return false
			}
			switch toks[i+1].Token {
			case pg_query.Token_STDIN, pg_query.Token_STDOUT:
				return true
			}
			return false
		}
	}
	return false
}
