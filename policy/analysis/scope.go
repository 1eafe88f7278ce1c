package analysis

import "slices"

// itemKind is the kind of a FROM item.
type itemKind uint8

const (
	itemRel     itemKind = iota // a table or view
	itemDerived                 // a subquery, CTE or VALUES: known output entries
	itemJoin                    // a JOIN
	itemFunc                    // a function, XMLTABLE, JSON_TABLE, ON CONFLICT's excluded
)

// fromItem is one entry of a query level's FROM namespace.
type fromItem struct {
	kind itemKind
	// refname is the name qualified references use (the alias, else the
	// relation, CTE or function name); "" when the item has none.
	refname string
	// itemRel: the relation "schema.table", its parts, whether it is
	// aliased (then only the alias refers to it) and its alias column list.
	table, schema, relname string
	aliased                bool
	colAliases             []string
	// extra applies to every column of the item: RETURNING sees the
	// target's columns after the write, derived from the written values.
	extra lin
	// itemDerived: the entries; fuzzy when an alias column list renames
	// columns whose positions are not known (then any name may be any
	// entry).
	cols  []outCol
	fuzzy bool
	// itemJoin.
	left, right *fromItem
	using       []string
	natural     bool
	// itemFunc: the lineage of every column, and the column names when
	// known (nil: any name may be a column).
	lin   lin
	names []string
	// hidden items are only reachable by a qualified name (excluded).
	hidden bool
	// usingAlias names the merged columns of JOIN ... USING (...) AS x.
	usingAlias string
}

// scope is one query level's FROM namespace; parent is the enclosing level
// (outer references).
type scope struct {
	parent *scope
	items  []*fromItem
}

// match is what a column name resolves to.
type match struct {
	lin     lin
	found   bool // something may be this column
	certain bool // the column certainly exists here (stops outer lookup)
	direct  bool // a plain stored column
}

func (m *match) merge(o match) {
	if !o.found {
		return
	}
	if !m.found {
		*m = o
		m.lin = o.lin.clone()
		return
	}
	m.lin.add(o.lin)
	m.certain = m.certain || o.certain
	m.direct = m.direct && o.direct
}

// lookup resolves a column name within the item.
func (it *fromItem) lookup(name string) match {
	switch it.kind {
	case itemRel:
		if slices.Contains(it.colAliases, name) {
			// A renamed column: which one is not known without the
			// catalog.
			l := it.extra.clone()
			l.whole = append(l.whole, it.table)
			return match{lin: l, found: true, certain: true}
		}
		l := it.extra.clone()
		l.cols = append(l.cols, colRef(it.table, name))
		return match{lin: l, found: true, direct: it.extra.empty()}
	case itemDerived:
		return lookupCols(it.cols, it.fuzzy, name)
	case itemJoin:
		if it.colAliases != nil && slices.Contains(it.colAliases, name) {
			return match{lin: it.whole(), found: true, certain: true}
		}
		m := it.left.lookup(name)
		m.merge(it.right.lookup(name))
		if slices.Contains(it.using, name) {
			m.certain, m.direct = true, false
		}
		return m
	default:
		if it.names != nil && !slices.Contains(it.names, name) {
			return match{}
		}
		return match{lin: it.lin.clone(), found: true, certain: it.names != nil}
	}
}

// lookupCols resolves a column name among output entries: an entry of that
// name if there is one; otherwise every star (its column of that name),
// every Many entry and every entry whose name is not known.
func lookupCols(cols []outCol, fuzzy bool, name string) match {
	var m match
	if fuzzy {
		l := allLin(cols)
		return match{lin: l, found: len(cols) > 0}
	}
	for i := range cols {
		c := &cols[i]
		if c.named && c.name == name && c.single() {
			m.merge(match{lin: c.lin, found: true, certain: true, direct: c.direct})
		}
	}
	if m.found {
		return m
	}
	for i := range cols {
		c := &cols[i]
		switch {
		case c.star != nil:
			if slices.Contains(c.star.Except, name) {
				continue
			}
			l := c.lin.clone()
			l.cols = append(l.cols, colRef(c.star.Table, name))
			for _, u := range c.star.Union {
				if !slices.Contains(u.Except, name) {
					l.cols = append(l.cols, colRef(u.Table, name))
				}
			}
			m.merge(match{lin: l, found: true, direct: c.direct && len(c.star.Union) == 0})
		case c.many || !c.named:
			m.merge(match{lin: c.lin, found: true})
		}
	}
	return m
}

// whole returns the lineage of the item's whole row.
func (it *fromItem) whole() lin {
	switch it.kind {
	case itemRel:
		l := it.extra.clone()
		l.whole = append(l.whole, it.table)
		return l
	case itemDerived:
		return allLin(it.cols)
	case itemJoin:
		l := it.left.whole()
		l.add(it.right.whole())
		return l
	default:
		return it.lin.clone()
	}
}

// expand returns the entries SELECT * gives for the item, leaving out the
// columns named in except (merged by an enclosing JOIN ... USING).
func (it *fromItem) expand(except []string) []outCol {
	switch it.kind {
	case itemRel:
		if len(except) > 0 && len(it.colAliases) > 0 {
			// Except names may be aliases: positions unknown.
			return []outCol{{many: true, lin: it.whole()}}
		}
		return []outCol{{
			star:   &StarRef{Table: it.table, Except: nameSet(nil, except)},
			direct: it.extra.empty(),
			lin:    it.extra.clone(),
		}}
	case itemDerived:
		if len(except) == 0 {
			out := make([]outCol, len(it.cols))
			for i, c := range it.cols {
				out[i] = cloneCol(c)
			}
			return out
		}
		out := make([]outCol, 0, len(it.cols))
		for _, c := range it.cols {
			switch {
			case it.fuzzy || c.many || (c.single() && !c.named):
				// Cannot tell whether it is one of the merged columns.
				return []outCol{{many: true, lin: allLin(it.cols)}}
			case c.star != nil:
				c = cloneCol(c)
				c.star.Except = nameSet(c.star.Except, except)
				for i := range c.star.Union {
					c.star.Union[i].Except = nameSet(c.star.Union[i].Except, except)
				}
				out = append(out, c)
			case !slices.Contains(except, c.name):
				out = append(out, cloneCol(c))
			}
		}
		return out
	case itemJoin:
		if it.natural {
			return []outCol{{many: true, lin: it.whole()}}
		}
		out := it.merged(except)
		ex := append(slices.Clone(except), it.using...)
		out = append(out, it.left.expand(ex)...)
		return append(out, it.right.expand(ex)...)
	default:
		return []outCol{{many: true, lin: it.lin.clone()}}
	}
}

// nameSet returns a sorted set of the names in a and b (nil when empty).
func nameSet(a, b []string) []string {
	if len(a)+len(b) == 0 {
		return nil
	}
	s := append(slices.Clone(a), b...)
	slices.Sort(s)
	return slices.Compact(s)
}

// merged returns the merged columns of a JOIN ... USING, except those
// named in except.
func (it *fromItem) merged(except []string) []outCol {
	var out []outCol
	for _, u := range it.using {
		if slices.Contains(except, u) {
			continue
		}
		m := it.left.lookup(u)
		m.merge(it.right.lookup(u))
		out = append(out, outCol{name: u, named: true, lin: m.lin})
	}
	return out
}

// byRefname finds the item a qualified reference names at this level.
func (sc *scope) byRefname(name string) *fromItem {
	for _, it := range sc.items {
		if f := it.findRef(name); f != nil {
			return f
		}
	}
	return nil
}

func (it *fromItem) findRef(name string) *fromItem {
	if it.kind == itemJoin && it.usingAlias != "" && it.usingAlias == name {
		return &fromItem{kind: itemDerived, refname: name, cols: it.merged(nil)}
	}
	if it.kind == itemJoin && it.refname == "" {
		if f := it.left.findRef(name); f != nil {
			return f
		}
		return it.right.findRef(name)
	}
	if it.refname != "" && it.refname == name {
		return it
	}
	return nil
}

// byTable finds an unaliased relation schema.table at this level.
func (sc *scope) byTable(schema, table string) *fromItem {
	for _, it := range sc.items {
		if f := it.findTable(schema, table); f != nil {
			return f
		}
	}
	return nil
}

func (it *fromItem) findTable(schema, table string) *fromItem {
	switch {
	case it.kind == itemJoin && it.refname == "":
		if f := it.left.findTable(schema, table); f != nil {
			return f
		}
		return it.right.findTable(schema, table)
	case it.kind == itemRel && !it.aliased && it.schema == schema && it.relname == table:
		return it
	}
	return nil
}

// resolve returns the lineage of a column reference given by its name
// parts (star excluded), looked up from sc outwards.
func (p *prov) resolve(names []string, sc *scope) match {
	switch len(names) {
	case 1:
		return p.resolveName(names[0], sc, true)
	case 2:
		for s := sc; s != nil; s = s.parent {
			if it := s.byRefname(names[0]); it != nil {
				m := it.lookup(names[1])
				m.found = true
				return m
			}
		}
		// Not a relation: a field of a composite column.
		return p.composite(names[:1], sc)
	case 3, 4:
		n := names[len(names)-3:]
		for s := sc; s != nil; s = s.parent {
			if it := s.byTable(n[0], n[1]); it != nil {
				m := it.lookup(n[2])
				m.found = true
				return m
			}
		}
		return p.composite(names[:len(names)-1], sc)
	}
	return match{lin: lin{unknown: "column reference with too many parts"}, found: true}
}

// composite resolves the composite column a field selection applies to.
func (p *prov) composite(names []string, sc *scope) match {
	var m match
	if len(names) == 1 {
		m = p.resolveName(names[0], sc, false)
	} else {
		m = p.resolve(names, sc)
	}
	m.direct = false
	if !m.found || m.lin.empty() {
		return match{lin: lin{unknown: "unresolved column reference"}, found: true}
	}
	return m
}

// resolveName resolves an unqualified name: candidates from every item of
// each level, innermost first, until a level certainly has the column; a
// relation of that name contributes its whole row (SELECT t FROM t) when
// rows is set.
func (p *prov) resolveName(name string, sc *scope, rows bool) match {
	var m match
	for s := sc; s != nil; s = s.parent {
		var lm match
		for _, it := range s.items {
			if !it.hidden {
				lm.merge(it.lookup(name))
			}
		}
		if rows && !lm.certain {
			if it := s.byRefname(name); it != nil {
				lm.merge(match{lin: it.whole(), found: true})
				lm.direct = false
			}
		}
		m.merge(lm)
		if lm.certain {
			break
		}
	}
	return m
}
