package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultTTL bounds how long a relation's definition is trusted.
const DefaultTTL = 10 * time.Second

// Connector opens a control connection to database.
type Connector func(ctx context.Context, database string) (*pgconn.PgConn, error)

// ErrNotFound is returned when the catalog has no such object.
var ErrNotFound = errors.New("not found in catalog")

// Catalog serves catalog lookups for one endpoint.
type Catalog struct {
	connect Connector
	log     *slog.Logger
	ttl     time.Duration

	mu  sync.Mutex
	dbs map[string]*db
}

// db is one database's control connection and caches.
type db struct {
	mu    sync.Mutex // serialises use of conn
	conn  *pgconn.PgConn
	gen   atomic.Uint64 // bumped by Invalidate
	funcs sync.Map      // uint32 → string
	rels  sync.Map      // uint32 → *Relation
	names sync.Map      // "schema.name" → uint32
}

// New returns a Catalog that opens connections with connect.
func New(connect Connector, log *slog.Logger) *Catalog {
	if log == nil {
		log = slog.Default()
	}
	return &Catalog{connect: connect, log: log, dbs: map[string]*db{}, ttl: DefaultTTL}
}

func (c *Catalog) db(database string) *db {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dbs[database]
	if d == nil {
		d = &db{}
		c.dbs[database] = d
	}
	return d
}

// query runs sql with args on database's control connection and returns
// the text-format rows. A broken connection is reopened once.
func (c *Catalog) query(ctx context.Context, database, sql string, args ...string) ([][][]byte, error) {
	d := c.db(database)
	d.mu.Lock()
	defer d.mu.Unlock()
	params := make([][]byte, len(args))
	for i, a := range args {
		params[i] = []byte(a)
	}
	for attempt := 0; ; attempt++ {
		if d.conn == nil || d.conn.IsClosed() {
			conn, err := c.connect(ctx, database)
			if err != nil {
				return nil, fmt.Errorf("catalog connection to %s: %w", database, err)
			}
			// pg_get_viewdef then qualifies every name it prints.
			if err := conn.Exec(ctx, "SET search_path = pg_catalog").Close(); err != nil {
				conn.Close(ctx)
				return nil, fmt.Errorf("catalog connection to %s: %w", database, err)
			}
			d.conn = conn
		}
		res := d.conn.ExecParams(ctx, sql, params, nil, nil, nil).Read()
		if res.Err == nil {
			return res.Rows, nil
		}
		if attempt > 0 || !d.conn.IsClosed() {
			return nil, fmt.Errorf("catalog query: %w", res.Err)
		}
	}
}

// FunctionName returns the schema-qualified name of the function with oid
// in database ("pg_catalog.lo_open").
func (c *Catalog) FunctionName(ctx context.Context, database string, oid uint32) (string, error) {
	d := c.db(database)
	if v, ok := d.funcs.Load(oid); ok {
		return v.(string), nil
	}
	rows, err := c.query(ctx, database,
		`SELECT n.nspname, p.proname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = $1::oid`,
		strconv.FormatUint(uint64(oid), 10))
	if err != nil {
		return "", err
	}
	if len(rows) == 0 {
		return "", fmt.Errorf("function %d: %w", oid, ErrNotFound)
	}
	name := string(rows[0][0]) + "." + string(rows[0][1])
	d.funcs.Store(oid, name)
	return name, nil
}

// Close closes every control connection.
func (c *Catalog) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, d := range c.dbs {
		d.mu.Lock()
		if d.conn != nil {
			errs = append(errs, d.conn.Close(context.Background()))
		}
		d.mu.Unlock()
	}
	return errors.Join(errs...)
}
