package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// combine folds the decisions of things that run together (the statements
// of one Query text, the statements an EXECUTE may run, the two readings
// of a text under an unknown standard_conforming_strings) into one:
//
//   - the first outright denial, if any (a statement that is denied is
//     never offered for approval, nor are the statements sent with it);
//   - otherwise, when any needs approval, one approval: approver groups
//     common to all (none in common denies: nobody could approve them
//     together), the shortest timeout, every distinct reason;
//   - otherwise base.
//
// Masks are united in the result, the stricter rule winning where two
// differ. With a single decision it is returned as it is.
func combine(ds []Decision, base Decision) Decision {
	if len(ds) == 1 {
		return ds[0]
	}
	var approvals []*Approval
	for i := range ds {
		if ds[i].Denied() {
			return ds[i]
		}
		if ds[i].RequireApproval != nil {
			approvals = append(approvals, ds[i].RequireApproval)
		}
	}
	mask := base.Mask
	for i := range ds {
		mask = uniteMasks(mask, ds[i].Mask)
	}
	if len(approvals) == 0 {
		base.Mask = mask
		return base
	}
	a := &Approval{
		ApproverGroups: approvals[0].ApproverGroups,
		Timeout:        approvals[0].Timeout,
	}
	var reasons []string
	for _, ap := range approvals {
		a.ApproverGroups = intersect(a.ApproverGroups, ap.ApproverGroups)
		a.Timeout = min(a.Timeout, ap.Timeout)
		if !slices.Contains(reasons, ap.Reason) {
			reasons = append(reasons, ap.Reason)
		}
	}
	a.Reason = strings.Join(reasons, "; ")
	if len(a.ApproverGroups) == 0 {
		var groups []string
		for _, ap := range approvals {
			groups = append(groups, strings.Join(ap.ApproverGroups, " or "))
		}
		return Decision{Reason: fmt.Sprintf("%s; the statements need approval by different groups (%s) and nobody could approve them together: send them separately",
			a.Reason, strings.Join(groups, "; "))}
	}
	return Decision{Reason: a.Reason, Mask: mask, RequireApproval: a}
}

// intersect returns the elements of sorted a that are also in b, sharing
// a when that is all of it.
func intersect(a, b []string) []string {
	var out []string
	for i, g := range a {
		if slices.Contains(b, g) {
			if out != nil {
				out = append(out, g)
			}
			continue
		}
		if out == nil {
			out = append(make([]string, 0, len(a)), a[:i]...)
		}
	}
	if out == nil {
		return a
	}
	return out
}

// uniteMasks returns a mask with the columns of both, sharing a or b when
// one holds all of it. Where both mask a column differently the stricter
// rule wins: null (which hides even whether there is a value) over
// anything, else redact.
func uniteMasks(a, b map[string]MaskRule) map[string]MaskRule {
	switch {
	case len(b) == 0 || maps.Equal(a, b):
		return a
	case len(a) == 0:
		return b
	}
	out := maps.Clone(a)
	for col, rb := range b {
		ra, ok := out[col]
		switch {
		case !ok:
			out[col] = rb
		case ra == rb:
		case ra.Strategy == MaskNull || rb.Strategy == MaskNull:
			out[col] = MaskRule{Strategy: MaskNull}
		default:
			out[col] = MaskRule{Strategy: MaskRedact}
		}
	}
	return out
}
