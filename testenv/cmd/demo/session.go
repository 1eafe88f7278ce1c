package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

// psql runs a script through interlockd as the holder of token and prints
// the session as it appears on a terminal.
func (d *demo) psql(ctx context.Context, token, script string) error {
	host, port, _ := strings.Cut(d.addr, ":")
	f := filepath.Join(d.dir, fmt.Sprintf("script-%d.sql", time.Now().UnixNano()))
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "psql", "-X", "-e", "-h", host, "-p", port, "-U", "anyone", "-d", d.pg.Database, "-f", f)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+token, "PGSSLMODE=disable", "PGAPPNAME=demo-psql")
	out, _ := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		fmt.Println("    │ " + line)
	}
	return nil
}

func (d *demo) session(ctx context.Context, bin string) error {
	step("Minting an OIDC token for dana (group writers): the token is her database password")
	dev, err := d.issuer.Mint(testenv.MintOptions{Subject: "dana", Email: "dana@example.com", Groups: []string{"writers"}, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		return err
	}
	fmt.Printf("    PGPASSWORD=%s…\n", dev[:32])

	step("psql through Interlock: an allowed SELECT and a DROP denied by policy (production endpoint)")
	if err := d.psql(ctx, dev, `SELECT id, name, email FROM customers ORDER BY id LIMIT 3;
DROP TABLE customers;
SELECT current_user AS brokered_role, count(*) AS customers_still_there FROM customers;
`); err != nil {
		return err
	}

	step("The audit chain: who ran what, and what policy decided")
	if err := d.showAudit(); err != nil {
		return err
	}
	args := []string{"audit", "verify", "--live", d.audit}
	if pub := filepath.Join(d.dir, "audit-signing.pub"); fileExists(pub) {
		args = append(args, "--pubkey", pub)
	}
	fmt.Printf("    $ interlock %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "interlock"), args...)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		fmt.Println("    │ " + line)
	}
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	fmt.Printf("\n    metrics: http://%s/metrics   audit log: %s\n", d.metrics, d.audit)
	step("Done: stopping interlockd, the issuer and PostgreSQL")
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// showAudit prints the statement records of the audit log, one line each.
func (d *demo) showAudit() error {
	f, err := os.Open(d.audit)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, `"type":"statement"`) {
			if len(line) > 220 {
				line = line[:217] + "..."
			}
			fmt.Println("    " + line)
		}
	}
	return sc.Err()
}
