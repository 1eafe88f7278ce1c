package policy

import (
	"strings"
	"time"
)

// Decision is what the policy returns for one statement. A decision that
// does not allow always carries a Reason meant for the person who ran the
// statement.
//
// A statement runs only when Allow is true; it runs after approval when
// RequireApproval is set (Allow is then false, so code that reads only
// Allow refuses it); it is denied otherwise. Decisions come from caches
// and are shared between sessions: treat them, Mask and RequireApproval
// included, as read-only.
type Decision struct {
	// Allow is true only when the policy returned exactly the boolean
	// true and no require_approval.
	Allow bool `json:"allow"`
	// Reason says why. It is never empty when Allow is false.
	Reason string `json:"reason"`
	// Mask maps columns ("schema.table.column", as the catalog names base
	// columns) to how their values are masked in results. Nil when the
	// policy masks nothing for this user. It applies to allowed statements
	// and to statements that run after approval.
	Mask map[string]MaskRule `json:"mask,omitempty"`
	// RequireApproval, when set, means the statement may run only after a
	// member of one of its approver groups approves it.
	RequireApproval *Approval `json:"require_approval,omitempty"`
}

// MaskRule is how one column's values are masked. The policy returns it as
// {"strategy": "partial", "keep": 4}; the engine checks every member, so a
// rule that reaches the proxy is well-formed. Parameters apply only to the
// strategies named below.
type MaskRule struct {
	// Strategy is one of MaskRedact, MaskNull, MaskPartial, MaskHash,
	// MaskEmail.
	Strategy string `json:"strategy"`
	// Keep is how many trailing characters partial shows (0: the masker's
	// default, 4). Only with partial.
	Keep int `json:"keep,omitempty"`
	// Fill is the single character that replaces hidden characters (""
	// for the masker's default, "*"). Only with partial and email.
	Fill string `json:"fill,omitempty"`
	// HashEncoding is "hex" or "base64" ("" for hex). Only with hash.
	HashEncoding string `json:"hash_encoding,omitempty"`
	// HashLength keeps that many leading characters of the hash (0: all
	// of it; otherwise at least 8). Only with hash.
	HashLength int `json:"hash_length,omitempty"`
}

// The masking strategies a MaskRule may name (see policy/mask).
const (
	MaskRedact  = "redact"
	MaskNull    = "null"
	MaskPartial = "partial"
	MaskHash    = "hash"
	MaskEmail   = "email"
)

// Approval says who must approve a statement before it runs.
type Approval struct {
	// ApproverGroups are the groups whose members may approve, sorted,
	// never empty. That the requester does not approve their own statement
	// is enforced by the approval service, not by the policy.
	ApproverGroups []string `json:"approver_groups"`
	// Reason says why approval is needed; never empty.
	Reason string `json:"reason"`
	// Timeout is how long the statement waits for a decision before it is
	// refused: DefaultApprovalTimeout unless the policy says otherwise, at
	// most MaxApprovalTimeout.
	Timeout time.Duration `json:"timeout"`
}

// Approval timeouts.
const (
	// DefaultApprovalTimeout applies when require_approval has no timeout.
	DefaultApprovalTimeout = 5 * time.Minute
	// MaxApprovalTimeout is the longest timeout a policy may ask for: a
	// held statement keeps its session (and any open transaction) waiting.
	MaxApprovalTimeout = 24 * time.Hour
)

// Masking reports whether the policy masks columns for this statement.
// Values whose provenance the proxy cannot establish are masked only when
// it does (fail closed for users with masking rules, transparent for the
// others).
func (d *Decision) Masking() bool { return len(d.Mask) > 0 }

// NeedsApproval reports whether the statement runs only after approval.
func (d *Decision) NeedsApproval() bool { return d.RequireApproval != nil }

// Denied reports whether the statement is refused outright: not allowed
// and not offered for approval.
func (d *Decision) Denied() bool { return !d.Allow && d.RequireApproval == nil }

// MaskedFilter returns the first of filters (entries of
// analysis.Statement.Filters, typically after the proxy resolved view
// columns to base columns) that would let a statement select, order or
// group rows by a masked value: a masked column, the whole row
// ("schema.table.*") of a table with a masked column, or a value of
// unknown provenance ("*") when anything is masked. The default policy
// denies such statements itself for the columns the statement names; this
// lets the proxy apply the same rule through views.
func (d *Decision) MaskedFilter(filters []string) (string, bool) {
	if len(d.Mask) == 0 {
		return "", false
	}
	for _, f := range filters {
		if f == "*" {
			return f, true
		}
		if table, ok := strings.CutSuffix(f, ".*"); ok {
			for col := range d.Mask {
				if columnTable(col) == table {
					return f, true
				}
			}
			continue
		}
		if _, ok := d.Mask[f]; ok {
			return f, true
		}
	}
	return "", false
}

// columnTable is the "schema.table" part of "schema.table.column".
func columnTable(col string) string {
	if i := strings.LastIndexByte(col, '.'); i >= 0 {
		return col[:i]
	}
	return ""
}
