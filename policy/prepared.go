package policy

import (
	"context"
	"fmt"
	"slices"

	"github.com/interlock-dev/interlock/policy/analysis"
	"github.com/open-policy-agent/opa/v1/ast"
)

// Limits on what a session tracks of its prepared statements. A PREPARE
// beyond them is denied rather than forgotten.
const (
	maxPreparedNames      = 4096
	maxPreparedCandidates = 16
)

// prepared is what the session knows about one prepared-statement name.
//
// The proxy decides before the server runs anything, so it cannot know
// whether a PREPARE or DEALLOCATE took effect (an earlier statement of the
// same query may fail, a name may already exist). So a name keeps every
// statement ever prepared under it (its candidates), DEALLOCATE removes
// nothing, and EXECUTE is allowed only when every candidate is.
type prepared struct {
	cands []*candidate // oldest first
}

type candidate struct {
	// stmt is the analysis PREPARE (or a named Parse) recorded; val its
	// input value, to tell candidates apart.
	stmt *analysis.Statement
	val  ast.Value
	// dec is the decision for stmt run by the EXECUTE statement exec (an
	// immutable, cached analysis) under policy generation gen (0: none).
	exec *analysis.Statement
	dec  Decision
	gen  uint64
}

// recordPrepare records the statement that PREPARE name creates, and
// returns the PREPARE's final decision (denied when limits are exceeded).
func (s *Session) recordPrepare(name string, st *analysis.Statement, d Decision) Decision {
	val, err := statementValue(st)
	if err != nil {
		return Decision{Reason: err.Error()}
	}
	p := s.prepared[name]
	if p == nil {
		if len(s.prepared) >= maxPreparedNames {
			return Decision{Reason: fmt.Sprintf("too many prepared statements in this session (interlock tracks at most %d)", maxPreparedNames)}
		}
		p = &prepared{}
		s.prepared[name] = p
	}
	if slices.ContainsFunc(p.cands, func(x *candidate) bool { return x.val.Compare(val) == 0 }) {
		return d
	}
	if len(p.cands) >= maxPreparedCandidates {
		return Decision{Reason: fmt.Sprintf("prepared statement %q was prepared with too many different statements in this session", name)}
	}
	p.cands = append(p.cands, &candidate{stmt: st, val: val})
	return d
}

// decideExecute decides a statement that executes a prepared statement
// (EXECUTE, EXPLAIN EXECUTE, CREATE TABLE AS EXECUTE) as itself with each
// statement prepared under the name folded in: denied when any candidate
// is, held for approval when any needs it (see combine), allowed only when
// every candidate is.
func (s *Session) decideExecute(ctx context.Context, cur *compiled, exec *analysis.Statement) (Decision, *analysis.Statement, error) {
	p := s.prepared[exec.Execute]
	if p == nil || len(p.cands) == 0 {
		return Decision{Reason: fmt.Sprintf("EXECUTE of prepared statement %q, which was not prepared through interlock in this session", exec.Execute)}, nil, nil
	}
	latest := p.cands[len(p.cands)-1].stmt
	ds := make([]Decision, 0, len(p.cands))
	for _, c := range p.cands {
		if c.gen != cur.gen || c.exec != exec || cur.volatile != "" {
			val, err := statementValue(mergeExecute(exec, c.stmt))
			if err != nil {
				return Decision{Reason: err.Error()}, latest, err
			}
			dec, err := s.eval(ctx, cur, val)
			if err != nil {
				return dec, latest, err
			}
			c.dec, c.gen, c.exec = dec, cur.gen, exec
		}
		if c.dec.Denied() {
			return c.dec, latest, nil
		}
		ds = append(ds, c.dec)
	}
	return combine(ds, ds[len(ds)-1]), latest, nil
}

// mergeExecute is the executing statement exec with the effects of the
// prepared statement prep added: kinds, tables, functions, settings, the
// columns it filters by and copies.
func mergeExecute(exec, prep *analysis.Statement) *analysis.Statement {
	m := *exec
	m.Kinds = union(exec.Kinds, prep.Kinds)
	m.TablesRead = union(exec.TablesRead, prep.TablesRead)
	m.TablesWritten = union(exec.TablesWritten, prep.TablesWritten)
	m.Functions = union(exec.Functions, prep.Functions)
	m.Settings = union(exec.Settings, prep.Settings)
	// An argument may be used anywhere in the prepared statement, so what
	// it derives from counts as filtered and copied.
	args := argLineage(exec.ExecuteArgs)
	m.Filters = union(union(exec.Filters, prep.Filters), args)
	m.Copied = union(union(exec.Copied, prep.Copied), args)
	m.UnfilteredWrite = exec.UnfilteredWrite || prep.UnfilteredWrite
	m.CopyExternal = exec.CopyExternal || prep.CopyExternal
	m.Prepare = ""
	return &m
}

// argLineage lists what EXECUTE arguments derive from, in the form of
// Statement.Filters: columns, "schema.table.*" for whole rows, "*" for
// values of unknown provenance.
func argLineage(args []analysis.OutputColumn) []string {
	var out []string
	for _, a := range args {
		out = append(out, a.Sources...)
		for _, t := range a.WholeRow {
			out = append(out, t+".*")
		}
		if a.Star != nil {
			out = append(out, a.Star.Table+".*")
			for _, u := range a.Star.Union {
				out = append(out, u.Table+".*")
			}
		}
		if a.Unknown {
			out = append(out, analysis.Unknown)
		}
	}
	return out
}

func union(a, b []string) []string {
	u := append(slices.Clone(a), b...)
	slices.Sort(u)
	return slices.Compact(u)
}

// CheckParse checks the text of an extended-protocol Parse message that
// creates the prepared statement name ("" for the unnamed one). When it is
// allowed or held for approval (it may then run), SQL EXECUTE name
// resolves to it, as the server's namespace of prepared statements is
// shared between the protocol and SQL.
func (s *Session) CheckParse(ctx context.Context, name, text string, scs SCS) (*Result, error) {
	r, err := s.Check(ctx, text, scs)
	if name == "" || r.Decision.Denied() || len(r.Statements) != 1 {
		return r, err
	}
	st := r.Statements[0].Statement
	if st.Prepare != "" || st.Execute != "" || st.Deallocate != "" {
		// Not recorded: an EXECUTE of name is then denied as unknown.
		return r, err
	}
	if d := s.recordPrepare(name, st, r.Decision); d.Denied() {
		c := r.Statements[0]
		c.Decision = d
		return newResult(r.gen, []Checked{c}), err
	}
	return r, err
}
