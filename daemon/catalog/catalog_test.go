package catalog

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/interlock-dev/interlock/testenv"
)

func TestCatalog(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{StandardRoles: true, SampleData: true,
		InitSQL: []string{"CREATE VIEW public.customer_contacts AS SELECT id, upper(email) AS email FROM public.customers"}})
	connects := 0
	c := New(func(ctx context.Context, db string) (*pgconn.PgConn, error) {
		connects++
		return pgconn.Connect(ctx, pg.DSN(testenv.RoleRO, testenv.RoleROPassword, db))
	}, nil)
	t.Cleanup(func() { _ = c.Close() })

	r, err := c.RelationByName(ctx, pg.Database, "public", "customers")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != 'r' || r.QualifiedName() != "public.customers" || len(r.Columns) != 9 {
		t.Fatalf("customers: %+v", r)
	}
	if col, ok := r.Column(4); !ok || col.Name != "ssn" || col.TypeOID != 25 {
		t.Fatalf("attribute 4 = %+v, want ssn text", col)
	}
	byOID, err := c.RelationByOID(ctx, pg.Database, r.OID)
	if err != nil || byOID != r {
		t.Fatalf("by OID: %v %v (want the cached relation)", byOID, err)
	}
	v, err := c.RelationByName(ctx, pg.Database, "public", "customer_contacts")
	if err != nil {
		t.Fatal(err)
	}
	if !v.IsView() || v.ViewDef == "" || len(v.Columns) != 2 {
		t.Fatalf("view: %+v", v)
	}
	if _, err := c.RelationByName(ctx, pg.Database, "public", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing relation: %v", err)
	}
	var absOID uint32 = 1397 // int4abs
	if name, err := c.FunctionName(ctx, pg.Database, absOID); err != nil || name != "pg_catalog.abs" {
		t.Fatalf("function 1397: %q %v", name, err)
	}
	if _, err := c.FunctionName(ctx, pg.Database, 4294967000); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing function: %v", err)
	}
	// DDL, then Invalidate: the new column is seen.
	if err := pg.Exec(ctx, "ALTER TABLE public.customers ADD COLUMN extra int"); err != nil {
		t.Fatal(err)
	}
	c.Invalidate(pg.Database)
	r2, err := c.RelationByName(ctx, pg.Database, "public", "customers")
	if err != nil || len(r2.Columns) != 10 {
		t.Fatalf("after DDL: %+v %v", r2, err)
	}
	// A broken connection is reopened.
	before := connects
	if err := pg.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'interlock_ro'"); err != nil {
		t.Fatal(err)
	}
	c.Invalidate(pg.Database)
	if _, err := c.RelationByName(ctx, pg.Database, "public", "orders"); err != nil {
		t.Fatalf("after the control connection was killed: %v", err)
	}
	if connects != before+1 {
		t.Fatalf("connects = %d, want %d (one reconnect)", connects, before+1)
	}
}
