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
	// Decision is the decision for the text as a whole. With one
	// statement it is that statement's. With several: the first outright
	// denial, if any; otherwise, when statements need approval, one
	// approval for all of them (approver groups they have in common, the
	// shortest timeout); otherwise an allow. Its Mask unites the
	// statements' masks; per-statement masks are in Statements.
	Decision Decision
	// Cached is true when the decisions came from a cache, without
	// analysis or policy evaluation.
	Cached bool

	gen uint64 // policy generation the decisions were made under
}

// Allowed reports whether every statement of the text may run now. It is
// false when a statement needs approval (see NeedsApproval).
func (r *Result) Allowed() bool { return r.Decision.Allow }

// NeedsApproval reports whether the text may run only after approval:
// no statement is denied and at least one needs approval. Decision then
// holds the combined approval (Decision.RequireApproval).
func (r *Result) NeedsApproval() bool { return r.Decision.RequireApproval != nil }

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
	r := &Result{Statements: checked, gen: gen}
	switch len(checked) {
	case 0:
		r.Decision = Decision{Allow: true, Reason: "empty query"}
	case 1:
		r.Decision = checked[0].Decision
	default:
		ds := make([]Decision, len(checked))
		for i, c := range checked {
			ds[i] = c.Decision
		}
		r.Decision = combine(ds, Decision{Allow: true, Reason: "every statement is allowed"})
	}
	return r
}

// denied is a Result for a text that could not be checked at all.
func denied(gen uint64, reason string) *Result {
	d := Decision{Reason: reason}
	return newResult(gen, []Checked{{Decision: d}})
}
