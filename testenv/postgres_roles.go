package testenv

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Role is a database role created at startup or with CreateRole.
type Role struct {
	// Name of the role.
	Name string
	// Password, stored as a SCRAM-SHA-256 verifier. Empty means no password.
	Password string
	// Attributes are CREATE ROLE options such as "LOGIN", "SUPERUSER",
	// "CREATEROLE", "CREATEDB" or "CONNECTION LIMIT 5". Default: LOGIN.
	Attributes []string
}

// Standard role names and passwords, created by PostgresOptions.StandardRoles
// or Postgres.CreateStandardRoles.
const (
	// RoleRO may read every table in the public schema of the database.
	RoleRO         = "interlock_ro"
	RoleROPassword = "interlock-ro-secret"
	// RoleRW may read and write every table in the public schema.
	RoleRW         = "interlock_rw"
	RoleRWPassword = "interlock-rw-secret"
	// RoleAdmin owns the database, its public schema and the sample tables;
	// it has CREATEDB and CREATEROLE but is not a superuser.
	RoleAdmin         = "interlock_admin"
	RoleAdminPassword = "interlock-admin-secret"
)

// StandardRoles returns the three standard roles with their passwords.
func StandardRoles() []Role {
	return []Role{
		{Name: RoleRO, Password: RoleROPassword, Attributes: []string{"LOGIN"}},
		{Name: RoleRW, Password: RoleRWPassword, Attributes: []string{"LOGIN"}},
		{Name: RoleAdmin, Password: RoleAdminPassword, Attributes: []string{"LOGIN", "CREATEDB", "CREATEROLE"}},
	}
}

var roleAttribute = regexp.MustCompile(`^[A-Za-z]+( [A-Za-z]+)*( -?[0-9]+)?$`)

// CreateRole creates r as the superuser.
func (p *Postgres) CreateRole(ctx context.Context, r Role) error {
	if r.Name == "" {
		return fmt.Errorf("create role: empty name")
	}
	attrs := r.Attributes
	if len(attrs) == 0 {
		attrs = []string{"LOGIN"}
	}
	var b strings.Builder
	b.WriteString("CREATE ROLE ")
	b.WriteString(pgx.Identifier{r.Name}.Sanitize())
	b.WriteString(" WITH")
	for _, a := range attrs {
		if !roleAttribute.MatchString(a) {
			return fmt.Errorf("create role %s: invalid attribute %q", r.Name, a)
		}
		b.WriteString(" ")
		b.WriteString(a)
	}
	if r.Password != "" {
		b.WriteString(" PASSWORD ")
		b.WriteString(quoteLiteral(r.Password))
	}
	if err := p.ExecIn(ctx, "postgres", b.String()); err != nil {
		return fmt.Errorf("create role %s: %w", r.Name, err)
	}
	return nil
}

// CreateStandardRoles creates interlock_ro, interlock_rw and interlock_admin
// and grants them their privileges in p.Database, including default
// privileges so tables created later (by the superuser or the admin) are
// covered too.
func (p *Postgres) CreateStandardRoles(ctx context.Context) error {
	for _, r := range StandardRoles() {
		if err := p.CreateRole(ctx, r); err != nil {
			return err
		}
	}
	db := pgx.Identifier{p.Database}.Sanitize()
	su := pgx.Identifier{p.Superuser}.Sanitize()
	owners := su + ", " + RoleAdmin
	grants := []string{
		"ALTER DATABASE " + db + " OWNER TO " + RoleAdmin,
		"GRANT CONNECT ON DATABASE " + db + " TO " + RoleRO + ", " + RoleRW,
		"GRANT USAGE ON SCHEMA public TO " + RoleRO + ", " + RoleRW,
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + RoleRO,
		"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO " + RoleRO,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + RoleRW,
		"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO " + RoleRW,
		"GRANT ALL ON ALL TABLES IN SCHEMA public TO " + RoleAdmin,
		"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO " + RoleAdmin,
		"ALTER DEFAULT PRIVILEGES FOR ROLE " + owners + " IN SCHEMA public GRANT SELECT ON TABLES TO " + RoleRO,
		"ALTER DEFAULT PRIVILEGES FOR ROLE " + owners + " IN SCHEMA public GRANT SELECT ON SEQUENCES TO " + RoleRO,
		"ALTER DEFAULT PRIVILEGES FOR ROLE " + owners + " IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + RoleRW,
		"ALTER DEFAULT PRIVILEGES FOR ROLE " + owners + " IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO " + RoleRW,
		"ALTER DEFAULT PRIVILEGES FOR ROLE " + su + " IN SCHEMA public GRANT ALL ON TABLES TO " + RoleAdmin,
		"ALTER DEFAULT PRIVILEGES FOR ROLE " + su + " IN SCHEMA public GRANT ALL ON SEQUENCES TO " + RoleAdmin,
	}
	if err := p.Exec(ctx, strings.Join(grants, ";\n")); err != nil {
		return fmt.Errorf("grant standard roles: %w", err)
	}
	return nil
}

// quoteLiteral quotes s as a standard-conforming SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
