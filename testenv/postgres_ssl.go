package testenv

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// EnableSSL turns on TLS in a running cluster with the given server
// certificate chain and key (PEM), and replaces the host rules of
// pg_hba.conf with hba (e.g. "hostssl all all 127.0.0.1/32 scram-sha-256",
// "hostssl all alice 127.0.0.1/32 cert"); rules for the superuser on the
// unix socket are kept. With clientCA (PEM) set, client certificates are
// checked against it.
func (p *Postgres) EnableSSL(ctx context.Context, certPEM, keyPEM, clientCA []byte, hba []string) error {
	files := map[string][]byte{"server.crt": certPEM, "server.key": keyPEM}
	if clientCA != nil {
		files["client-ca.crt"] = clientCA
	}
	for name, data := range files {
		if err := p.writeFile(filepath.Join(p.DataDir, name), string(data)); err != nil {
			return fmt.Errorf("enable ssl: %w", err)
		}
	}
	lines := append([]string{"# written by testenv EnableSSL", "local all " + hbaQuote(p.Superuser) + " trust"}, hba...)
	if err := p.writeFile(filepath.Join(p.DataDir, "pg_hba.conf"), strings.Join(lines, "\n")+"\n"); err != nil {
		return fmt.Errorf("enable ssl: %w", err)
	}
	stmts := []string{"ALTER SYSTEM SET ssl = on", "ALTER SYSTEM SET ssl_cert_file = 'server.crt'", "ALTER SYSTEM SET ssl_key_file = 'server.key'"}
	if clientCA != nil {
		stmts = append(stmts, "ALTER SYSTEM SET ssl_ca_file = 'client-ca.crt'")
	}
	for _, sql := range stmts {
		// One per call: ALTER SYSTEM cannot run in a transaction block.
		if err := p.Exec(ctx, sql); err != nil {
			return fmt.Errorf("enable ssl: %w", err)
		}
	}
	if err := p.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("enable ssl: reload: %w", err)
	}
	return nil
}
