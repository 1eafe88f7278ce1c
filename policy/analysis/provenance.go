package analysis

import (
	"errors"
	"slices"
	"strings"
)

// OutputColumn is the provenance of one entry of a statement's result: which
// stored columns its values may derive from. An entry stands for one result
// column, except a Star (as many columns as its relation has) and a Many
// entry (a number of columns only the catalog or the RowDescription can
// tell).
//
// Every column reference names a relation as the statement wrote it
// ("schema.table.column", unqualified relations in "public"), which may be a
// view: the proxy resolves view columns to base columns with ViewOutput. An
// unqualified column name with several relations in scope lists a candidate
// in each ("public.a.ssn", "public.b.ssn"); the proxy ignores candidates the
// catalog does not have. Lineage is conservative: a value derives from every
// column its expression touches (function arguments, CASE conditions,
// aggregate FILTER and ORDER BY, window PARTITION BY/ORDER BY, the columns
// and predicates of scalar subqueries).
type OutputColumn struct {
	// Name is the column's name as the server will name it, when the
	// analysis knows it for certain (an alias, a column reference, a
	// function name); empty otherwise.
	Name string `json:"name,omitempty"`
	// Sources are the columns the value may derive from, sorted.
	Sources []string `json:"sources,omitempty"`
	// Star, when set, makes the entry stand for every column of a relation
	// (attribute order, dropped columns excluded): SELECT *, t.*, COPY t
	// TO, RETURNING *. Each of those columns derives from itself, from
	// the matching columns of Star.Union, and from this entry's Sources,
	// WholeRow and Unknown.
	Star *StarRef `json:"star,omitempty"`
	// WholeRow lists relations ("schema.table") whose whole row the value
	// may contain: SELECT t FROM t, row_to_json(t), t::text, to_jsonb(t),
	// json_agg(t). Sorted.
	WholeRow []string `json:"whole_row,omitempty"`
	// Many is true when the entry stands for zero or more columns whose
	// number the parse tree does not tell: SELECT * over a function in
	// FROM, a NATURAL JOIN, (expr).*, CALL. Each derives from the entry's
	// lineage. With a single Many entry the proxy gets its width from the
	// RowDescription; with several, the lineage of every Many entry
	// applies to every column from the first one on.
	Many bool `json:"many,omitempty"`
	// Unknown is true when the parse tree cannot establish where the
	// values come from (a function not known to derive only from its
	// arguments, a procedure's output, ...); Why says why. Fail closed:
	// the proxy masks such a column for a user with masking rules.
	Unknown bool   `json:"unknown,omitempty"`
	Why     string `json:"why,omitempty"`
	// Direct is true when the value is a plain column reference (possibly
	// renamed, possibly through subqueries and CTEs), so the RowDescription
	// normally carries its table OID and attribute number. It is a hint for
	// consistency checks: the proxy applies the union of what the catalog
	// says of the RowDescription's column and of this entry.
	Direct bool `json:"direct,omitempty"`
	// Params are the numbers of the parameters ($1 is 1) the value derives
	// from. Protocol-level parameters are client values; for SQL EXECUTE,
	// BindParams substitutes the provenance of the EXECUTE's arguments.
	Params []int `json:"params,omitempty"`
}

// StarRef is the relation a star entry expands to.
type StarRef struct {
	// Table is the relation, "schema.table" (possibly a view).
	Table string `json:"table"`
	// Except lists the columns, by name, that the expansion leaves out
	// because a JOIN ... USING already returned them merged.
	Except []string `json:"except,omitempty"`
	// Union lists the relations whose columns set operations combine with
	// this one position by position: column i of the entry also derives
	// from column i of each of them.
	Union []StarRef `json:"union,omitempty"`
}

// Unknown is the Filters/Copied entry for a value of unknown provenance.
const Unknown = "*"

// ErrNotQuery is returned by ViewOutput for a text that is not one SELECT.
var ErrNotQuery = errors.New("not a single query")

// ViewOutput returns the provenance of the result columns of a view
// definition, the text pg_get_viewdef returns (one SELECT), so that the
// proxy can resolve a view's columns to base columns: the view's attribute
// i is entry i (stars aside: pg_get_viewdef lists columns explicitly). Call
// pg_get_viewdef with search_path set to pg_catalog only, so that the
// definition qualifies every other relation; unqualified names are taken to
// be in "public". References may name other views: resolve them again.
func ViewOutput(def string, opts Options) ([]OutputColumn, error) {
	if strings.IndexByte(def, 0) >= 0 {
		return nil, &ParseError{Message: "query text contains a NUL byte"}
	}
	tree, err := parse(def, parserOptions(opts))
	if err != nil {
		return nil, err
	}
	if len(tree.Stmts) != 1 {
		return nil, ErrNotQuery
	}
	sel := tree.Stmts[0].GetStmt().GetSelectStmt()
	if sel == nil || hasInto(sel) {
		return nil, ErrNotQuery
	}
	p := newProv(defaultSchema)
	res := p.selectStmt(sel, nil, nil)
	return p.finishOutput(res.cols), nil
}

// BindParams returns out with the provenance of args (the ExecuteArgs of an
// EXECUTE, $1 first) added to every column that derives from a parameter,
// and Params cleared. A parameter without an argument makes the column
// unknown. out is not modified; the result shares the slices of entries
// without parameters with it, so treat both as read-only.
func BindParams(out, args []OutputColumn) []OutputColumn {
	res := make([]OutputColumn, len(out))
	for i, c := range out {
		if len(c.Params) == 0 {
			res[i] = c
			continue
		}
		var l lin
		l.cols = slices.Clone(c.Sources)
		l.whole = slices.Clone(c.WholeRow)
		if c.Unknown {
			l.unknown = c.Why
		}
		for _, n := range c.Params {
			if n < 1 || n > len(args) {
				l.setUnknown("parameter without an argument")
				continue
			}
			a := args[n-1]
			l.cols = append(l.cols, a.Sources...)
			l.whole = append(l.whole, a.WholeRow...)
			if a.Unknown {
				l.setUnknown(a.Why)
			}
			if a.Star != nil {
				l.whole = append(l.whole, starTables(a.Star)...)
			}
		}
		l.canon()
		b := c
		b.Params = nil
		b.Sources, b.WholeRow = l.cols, l.whole
		b.Unknown, b.Why = l.unknown != "", l.unknown
		b.Direct = false
		res[i] = b
	}
	return res
}

// starTables returns the relations a star entry covers.
func starTables(s *StarRef) []string {
	t := []string{s.Table}
	for _, u := range s.Union {
		t = append(t, u.Table)
	}
	return t
}
