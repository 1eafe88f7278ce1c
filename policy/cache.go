package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unique"

	"github.com/interlock-dev/interlock/policy/analysis"
	"github.com/open-policy-agent/opa/v1/ast"
)

// analysisEntry is the analysis of one cache key (or of one uncacheable
// text), with each statement already converted to a policy input value.
// Entries are immutable once built.
type analysisEntry struct {
	// id is unique per entry for the life of the engine, so a decision
	// cached for an evicted entry can never be found for a new one.
	id    uint64
	stmts []*analysis.Statement
	vals  []ast.Value
	// stateful is true when a statement prepares, executes or deallocates
	// a prepared statement: its decisions depend on session state and are
	// never cached as a whole.
	stateful bool
}

// decisionKey identifies a cached Result: the same session context (by its
// canonical JSON, interned) and the same analysis entry.
type decisionKey struct {
	ctx unique.Handle[string]
	aid uint64
}

// newEntry converts stmts into an entry. It clears each statement's Text,
// which holds constants of whichever text happened to be analysed first.
func (e *Engine) newEntry(stmts []*analysis.Statement) (*analysisEntry, error) {
	ent := &analysisEntry{
		id:    e.entryID.Add(1),
		stmts: stmts,
		vals:  make([]ast.Value, len(stmts)),
	}
	for i, st := range stmts {
		st.Text = ""
		v, err := statementValue(st)
		if err != nil {
			return nil, err
		}
		ent.vals[i] = v
		if st.Prepare != "" || st.Execute != "" || st.Deallocate != "" {
			ent.stateful = true
		}
	}
	return ent, nil
}

// statementValue converts a statement to its policy input form. Nil lists
// become empty arrays so that policies can iterate them without checks.
func statementValue(st *analysis.Statement) (ast.Value, error) {
	c := *st
	for _, l := range []*[]string{&c.Kinds, &c.TablesRead, &c.TablesWritten, &c.Functions, &c.Settings, &c.Filters, &c.Copied} {
		if *l == nil {
			*l = []string{}
		}
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	v, err := ast.ValueFromReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("convert statement: %w", err)
	}
	return v, nil
}
