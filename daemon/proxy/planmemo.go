package proxy

import (
	"bytes"
	"time"

	"github.com/interlock-dev/interlock/policy"
	"github.com/interlock-dev/interlock/policy/mask"
)

// A masking plan depends on the statement's verdict (rules and lineage),
// the row description and the catalog. planMemo keeps the plans the
// backend loop built, so a statement run again (pgbench, an application's
// hot queries) costs a comparison instead of catalog lookups and a plan.
const (
	// planMemoSize bounds the memo; it is cleared when full.
	planMemoSize = 64
	// planMemoTTL bounds how long a plan outlives the catalog entries it
	// was built from (they are trusted for catalog.DefaultTTL).
	planMemoTTL = time.Second
)

// memoPlan is one remembered plan.
type memoPlan struct {
	rowDesc []byte // the RowDescription body it was built for
	gen     uint64 // catalog generation when it was built
	at      time.Time
	plan    *mask.Plan // nil: nothing to mask
	rep     maskReport
}

// planMemo maps a verdict to the last plan built for it. It is owned by
// the backend loop (a Plan has scratch space and is not shared).
type planMemo map[*policy.Checked]*memoPlan

// get returns the plan remembered for c and rowDesc, or nil.
func (m planMemo) get(c *policy.Checked, rowDesc []byte, gen uint64) *memoPlan {
	if c == nil {
		return nil
	}
	e := m[c]
	if e == nil || e.gen != gen || !bytes.Equal(e.rowDesc, rowDesc) || time.Since(e.at) > planMemoTTL {
		return nil
	}
	return e
}

// put remembers plan for c and rowDesc.
func (m *planMemo) put(c *policy.Checked, rowDesc []byte, gen uint64, plan *mask.Plan, rep maskReport) {
	if c == nil {
		return
	}
	if *m == nil {
		*m = planMemo{}
	}
	if len(*m) >= planMemoSize {
		clear(*m)
	}
	e := (*m)[c]
	if e == nil {
		e = &memoPlan{}
		(*m)[c] = e
	}
	e.rowDesc = append(e.rowDesc[:0], rowDesc...)
	e.gen, e.at, e.plan, e.rep = gen, time.Now(), plan, rep
}
