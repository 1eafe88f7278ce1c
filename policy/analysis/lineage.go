package analysis

import (
	"slices"
	"strings"
)

// lin is the lineage of a value: the columns and whole rows it may derive
// from, the parameters it uses, and why it is unknown ("" when known).
type lin struct {
	cols    []string // "schema.table.column"
	whole   []string // "schema.table"
	params  []int
	unknown string
}

func (l *lin) add(o lin) {
	l.cols = append(l.cols, o.cols...)
	l.whole = append(l.whole, o.whole...)
	l.params = append(l.params, o.params...)
	if l.unknown == "" {
		l.unknown = o.unknown
	}
}

func (l *lin) setUnknown(why string) {
	if l.unknown == "" {
		l.unknown = why
	}
}

func (l lin) empty() bool {
	return len(l.cols) == 0 && len(l.whole) == 0 && len(l.params) == 0 && l.unknown == ""
}

// canon sorts and deduplicates l in place.
func (l *lin) canon() {
	slices.Sort(l.cols)
	l.cols = slices.Clip(slices.Compact(l.cols))
	slices.Sort(l.whole)
	l.whole = slices.Clip(slices.Compact(l.whole))
	slices.Sort(l.params)
	l.params = slices.Clip(slices.Compact(l.params))
}

func (l lin) equal(o lin) bool {
	return l.unknown == o.unknown && slices.Equal(l.cols, o.cols) &&
		slices.Equal(l.whole, o.whole) && slices.Equal(l.params, o.params)
}

// clone returns a copy of l that shares no backing arrays with it.
func (l lin) clone() lin {
	return lin{cols: slices.Clone(l.cols), whole: slices.Clone(l.whole), params: slices.Clone(l.params), unknown: l.unknown}
}

// flat appends l in the Filters/Copied form: column references,
// "schema.table.*" for whole rows, Unknown for an unknown value.
// Parameters are client values and are left out.
func (l lin) flat(dst []string) []string {
	dst = append(dst, l.cols...)
	for _, t := range l.whole {
		dst = append(dst, t+".*")
	}
	if l.unknown != "" {
		dst = append(dst, Unknown)
	}
	return dst
}

// outCol is one entry of a query's output while the analysis runs.
type outCol struct {
	name   string // the server's name for the column, when named
	named  bool
	star   *StarRef // set: the entry expands to a relation's columns
	many   bool     // the entry stands for an unknown number of columns
	direct bool
	lin    lin // for star and many entries: applies to each column
}

// single reports whether the entry is exactly one column.
func (c *outCol) single() bool { return c.star == nil && !c.many }

// all returns the lineage of everything the entry stands for.
func (c *outCol) all() lin {
	l := c.lin.clone()
	if c.star != nil {
		l.whole = append(l.whole, starTables(c.star)...)
	}
	return l
}

func (c *outCol) canon() { c.lin.canon() }

func (c *outCol) equal(o *outCol) bool {
	if c.name != o.name || c.named != o.named || c.many != o.many || c.direct != o.direct || !c.lin.equal(o.lin) {
		return false
	}
	if (c.star == nil) != (o.star == nil) {
		return false
	}
	return c.star == nil || starEqual(*c.star, *o.star)
}

func starEqual(a, b StarRef) bool {
	return a.Table == b.Table && slices.Equal(a.Except, b.Except) &&
		slices.EqualFunc(a.Union, b.Union, starEqual)
}

// cloneStar returns a deep copy of s.
func cloneStar(s *StarRef) *StarRef {
	c := &StarRef{Table: s.Table, Except: slices.Clone(s.Except)}
	for _, u := range s.Union {
		c.Union = append(c.Union, *cloneStar(&u))
	}
	return c
}

// cloneCol returns a copy of c that shares nothing mutable with it.
func cloneCol(c outCol) outCol {
	c.lin = c.lin.clone()
	if c.star != nil {
		c.star = cloneStar(c.star)
	}
	return c
}

func allLin(cols []outCol) lin {
	var l lin
	for i := range cols {
		l.add(cols[i].all())
	}
	return l
}

func colsEqual(a, b []outCol) bool {
	return slices.EqualFunc(a, b, func(x, y outCol) bool { return x.equal(&y) })
}

// public converts an entry to its exported form.
func (c *outCol) public() OutputColumn {
	l := c.lin.clone()
	l.canon()
	oc := OutputColumn{
		Sources:  l.cols,
		WholeRow: l.whole,
		Params:   l.params,
		Many:     c.many,
		Unknown:  l.unknown != "",
		Why:      l.unknown,
		Direct:   c.direct && !c.many && l.unknown == "",
	}
	if c.named {
		oc.Name = c.name
	}
	if c.star != nil {
		oc.Star = cloneStar(c.star)
	}
	if len(oc.Sources) == 0 {
		oc.Sources = nil
	}
	if len(oc.WholeRow) == 0 {
		oc.WholeRow = nil
	}
	if len(oc.Params) == 0 {
		oc.Params = nil
	}
	return oc
}

// colRef joins a relation and a column name.
func colRef(table, col string) string { return table + "." + col }

// splitRel splits "schema.table" at its first dot.
func splitRel(rel string) (schema, table string) {
	schema, table, _ = strings.Cut(rel, ".")
	return schema, table
}
