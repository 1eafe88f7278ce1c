package catalog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Relation is a table, view or other relation with its live columns.
type Relation struct {
	OID    uint32
	Schema string
	Name   string
	// Kind is pg_class.relkind: 'r' table, 'v' view, 'm' materialized
	// view, 'p' partitioned table, 'f' foreign table, ...
	Kind byte
	// Columns are the non-dropped user columns in attribute order.
	Columns []Column
	// ViewDef is pg_get_viewdef for views and materialized views.
	ViewDef string
}

// Column is one attribute of a relation.
type Column struct {
	Num     int16
	Name    string
	TypeOID uint32
}

// QualifiedName is "schema.name".
func (r *Relation) QualifiedName() string { return r.Schema + "." + r.Name }

// Column returns the column with attribute number num.
func (r *Relation) Column(num int16) (Column, bool) {
	for _, c := range r.Columns {
		if c.Num == num {
			return c, true
		}
	}
	return Column{}, false
}

// IsView reports whether the relation's rows come from a query.
func (r *Relation) IsView() bool { return r.Kind == 'v' || r.Kind == 'm' }

const relationSQL = `SELECT c.oid, n.nspname, c.relname, c.relkind::text, a.attnum, a.attname, a.atttypid,
  CASE WHEN c.relkind IN ('v','m') THEN pg_catalog.pg_get_viewdef(c.oid) END
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE `

// cachedRel is a relation and when it was read.
type cachedRel struct {
	rel *Relation
	at  time.Time
}

// RelationByOID returns the relation with oid in database. Entries are
// cached for TTL, and dropped at once by Invalidate (after DDL through
// interlockd); DDL made directly on the server is seen within TTL.
func (c *Catalog) RelationByOID(ctx context.Context, database string, oid uint32) (*Relation, error) {
	d := c.db(database)
	if v, ok := d.rels.Load(oid); ok {
		if cr := v.(cachedRel); time.Since(cr.at) < c.ttl {
			return cr.rel, nil
		}
	}
	r, err := c.relation(ctx, database, "c.oid = $1::oid ORDER BY a.attnum", strconv.FormatUint(uint64(oid), 10))
	if err != nil {
		return nil, err
	}
	d.rels.Store(oid, cachedRel{r, time.Now()})
	return r, nil
}

// RelationByName returns the relation schema.name in database.
func (c *Catalog) RelationByName(ctx context.Context, database, schema, name string) (*Relation, error) {
	d := c.db(database)
	key := schema + "." + name
	if v, ok := d.names.Load(key); ok {
		r, err := c.RelationByOID(ctx, database, v.(uint32))
		if !errors.Is(err, ErrNotFound) {
			return r, err
		}
		d.names.Delete(key) // dropped, maybe re-created under a new OID
	}
	r, err := c.relation(ctx, database, "n.nspname = $1 AND c.relname = $2 ORDER BY a.attnum", schema, name)
	if err != nil {
		return nil, err
	}
	d.names.Store(key, r.OID)
	d.rels.Store(r.OID, cachedRel{r, time.Now()})
	return r, nil
}

func (c *Catalog) relation(ctx context.Context, database, where string, args ...string) (*Relation, error) {
	rows, err := c.query(ctx, database, relationSQL+where, args...)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("relation %v: %w", args, ErrNotFound)
	}
	oid, err := strconv.ParseUint(string(rows[0][0]), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("relation oid: %w", err)
	}
	r := &Relation{OID: uint32(oid), Schema: string(rows[0][1]), Name: string(rows[0][2]), ViewDef: string(rows[0][7])}
	if len(rows[0][3]) > 0 {
		r.Kind = rows[0][3][0]
	}
	for _, row := range rows {
		if row[4] == nil {
			continue // a relation without columns
		}
		num, err1 := strconv.ParseInt(string(row[4]), 10, 16)
		typ, err2 := strconv.ParseUint(string(row[6]), 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("relation %d: bad attribute row", oid)
		}
		r.Columns = append(r.Columns, Column{Num: int16(num), Name: string(row[5]), TypeOID: uint32(typ)})
	}
	return r, nil
}

// Invalidate drops what is cached for database, after DDL changed it.
func (c *Catalog) Invalidate(database string) {
	d := c.db(database)
	d.gen.Add(1)
	d.rels.Clear()
	d.names.Clear()
	d.funcs.Clear()
}

// Generation changes whenever Invalidate drops database's cache: what was
// derived from the catalog under another generation may be stale.
func (c *Catalog) Generation(database string) uint64 {
	return c.db(database).gen.Load()
}
