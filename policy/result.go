package policy

import "github.com/interlock-dev/interlock/policy/analysis"

// Result is the outcome of checking one query text. Results come from
// caches and are shared between sessions: treat them, and the statements
// they point to, as read-only.
type Result struct {
	// Statements has one entry per statement of the text, in order. When
	// the text could not be analysed it has a single entry with a nil
	// Statement and a denying Decision.
	Statements []Checked
	// Decision is the first denying statement decision; when every
	// statement is allowed (also when there are none) it allows, with the
	// statement's own reason when there is exactly one.
	Decision Decision
	// Cached is true when the decisions came from a cache, without
	// analysis or policy evaluation.
	Cached bool

	gen uint64 // policy generation the decisions were made under
}

// Allowed reports whether every statement of the text may run.
func (r *Result) Allowed() bool { return r.Decision.Allow }

// Checked is one statement of a checked text and its decision.
type Checked struct {
	// Index is the statement's position in the text, from 0.
	Index int
	// Statement is the analysis. Its Text is always empty: analyses are
	// shared by texts that differ only in constants, so the caller must
	// take statement text from the query it holds. Nil when the text
	// could not be analysed.
	Statement *analysis.Statement
	// Prepared is, for a statement that executes a prepared statement,
	// the analysis of the most recent PREPARE (or named Parse) of that
	// name, the one the server most likely runs; nil otherwise.
	Prepared *analysis.Statement
	// Decision is the policy's decision for this statement.
	Decision Decision
}

// newResult builds a Result from per-statement decisions and sets its
// overall decision.
func newResult(gen uint64, checked []Checked) *Result {
	r := &Result{Statements: checked, gen: gen, Decision: Decision{Allow: true, Reason: "every statement is allowed"}}
	switch len(checked) {
	case 0:
		r.Decision.Reason = "empty query"
	case 1:
		r.Decision = checked[0].Decision
	}
	for _, c := range checked {
		if !c.Decision.Allow {
			r.Decision = c.Decision
			break
		}
	}
	return r
}

// denied is a Result for a text that could not be checked at all.
func denied(gen uint64, reason string) *Result {
	d := Decision{Reason: reason}
	return newResult(gen, []Checked{{Decision: d}})
}
