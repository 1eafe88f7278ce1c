package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// scenes runs the scripted story.
func (d *demo) scenes(ctx context.Context) error {
	step("Two people log in with `interlock login --device`: %s as uid %d, %s as uid %d", devSub, devUID, approverSub, approverUID)
	if err := d.login(ctx, devUID, devSub); err != nil {
		return err
	}
	if err := d.login(ctx, approverUID, approverSub); err != nil {
		return err
	}
	d.cli(ctx, devUID, "status")

	step("%s runs psql against the database's real address, with no password: the kernel hands the connection to interlockd, which knows who she is", devSub)
	say("PII columns are masked by provenance (aliases and expressions too), a DROP is denied by policy")
	if err := d.psql(ctx, devUID, d.psqlBin, `\conninfo
SELECT current_user AS brokered_role;
SELECT name, email, ssn, card_number, phone FROM customers ORDER BY id LIMIT 3;
SELECT upper(ssn) AS not_the_ssn, row_to_json(c)->>'email' AS sneaky FROM customers c ORDER BY id LIMIT 2;
DROP TABLE customers;
`); err != nil {
		return err
	}

	step("An UPDATE without WHERE on production is held for approval inside %s's live session", devSub)
	done := make(chan error, 1)
	go func() {
		done <- d.psql(ctx, devUID, d.psqlBin, "UPDATE customers SET notes = 'reviewed by support';\n")
	}()
	id, err := d.waitRequest(ctx)
	if err != nil {
		return err
	}
	say("%s sees the pending request and approves it (she may: she is in approvers, and she is not the requester)", approverSub)
	d.cli(ctx, approverUID, "requests")
	d.cli(ctx, approverUID, "approve", id, "--comment", "ticket OPS-1234")
	if err := <-done; err != nil {
		return err
	}

	step("The same person through an AI coding agent (%s, not on the write allowlist) gets read-only access", filepath.Base(d.agent))
	if err := d.psql(ctx, devUID, d.agent, `SELECT count(*) AS customers FROM customers;
UPDATE customers SET notes = 'agent was here' WHERE id = 1;
`); err != nil {
		return err
	}

	step("A bypass attempt: a raw socket sends a SYN straight to the database from the same host")
	if err := d.rawAttempt(ctx); err != nil {
		return err
	}
	d.cli(ctx, approverUID, "alerts")
	d.showMetrics()

	if err := d.finish(ctx); err != nil {
		return err
	}
	step("Done: removing the eBPF programs, the cgroup, the issuer and PostgreSQL")
	return nil
}

// login runs `interlock login --device` as uid and approves the device
// code at the issuer, as the person would in a browser.
func (d *demo) login(ctx context.Context, uid uint32, sub string) error {
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := d.cliCmd(lctx, uid, "login", "--device", "--no-browser")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	code, err := d.issuer.WaitDeviceCode(lctx)
	if err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	if err := d.issuer.ApproveDevice(code, sub); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	err = cmd.Wait()
	say("$ interlock login --device        (uid %d; %s approves code %s in her browser)", uid, sub, code)
	indent(out.String())
	if err != nil {
		return fmt.Errorf("login as %s: %w", sub, err)
	}
	return nil
}

// cliCmd is `interlock args...` run as uid.
func (d *demo) cliCmd(ctx context.Context, uid uint32, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(d.bin, "interlock"), args...)
	cmd.Env = []string{"INTERLOCK_SOCKET=" + d.socket, "PATH=/usr/bin:/bin", "HOME=/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	return cmd
}

// cli runs `interlock args...` as uid and shows it.
func (d *demo) cli(ctx context.Context, uid uint32, args ...string) {
	say("$ interlock %s        (uid %d)", strings.Join(args, " "), uid)
	out, _ := d.cliCmd(ctx, uid, args...).CombinedOutput()
	indent(string(out))
}

func indent(s string) {
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		fmt.Println("    │ " + line)
	}
}

// psql runs script with the psql binary bin as uid, inside the demo
// cgroup, against the database's real address, with an arbitrary password.
func (d *demo) psql(ctx context.Context, uid uint32, bin, script string) error {
	host, port, _ := strings.Cut(d.dbAddr, ":")
	f := filepath.Join(d.dir, fmt.Sprintf("script-%d.sql", time.Now().UnixNano()))
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "-X", "-e", "-h", host, "-p", port, "-U", "whoever", "-d", d.pg.Database, "-f", f)
	cmd.Env = []string{"PGPASSWORD=the-shared-password-nobody-needs-anymore", "PGSSLMODE=prefer", "PGAPPNAME=demo", "HOME=/", "PAGER=cat"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	d.cg.Apply(cmd)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	say("$ %s -h %s -p %s -U whoever -d %s -f script.sql        (uid %d)", filepath.Base(bin), host, port, d.pg.Database, uid)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { pw.CloseWithError(cmd.Wait()) }()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		fmt.Println("    │ " + sc.Text())
	}
	return nil
}

// waitRequest waits for a pending approval request and returns its id.
func (d *demo) waitRequest(ctx context.Context) (string, error) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := d.cliCmd(ctx, approverUID, "requests", "--json").Output()
		var resp struct {
			Requests []struct {
				ID string `json:"id"`
			} `json:"requests"`
		}
		if json.Unmarshal(out, &resp) == nil && len(resp.Requests) > 0 {
			return resp.Requests[0].ID, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return "", errors.New("no approval request appeared")
}

// finish shows the evidence: the audit chain verified, the replay of the
// developer's session and the metrics.
func (d *demo) finish(ctx context.Context) error {
	step("The evidence: the audit chain, verified, and a replay of %s's masked session", devSub)
	// Stop interlockd first: it seals the chain with a final signed
	// checkpoint, which verify then requires.
	d.stopDaemon()
	say("audit log: %s (hash-chained JSON lines, Ed25519-signed checkpoints)", d.audit)
	d.cli(ctx, 0, "audit", "verify", "--pubkey", d.pubKey, d.audit)
	if sid := d.lastSession(devSub); sid != "" {
		d.cli(ctx, 0, "replay", sid, "--audit", d.audit, "--rows", "3")
	}
	return nil
}

// showMetrics prints the metrics that tell the story so far.
func (d *demo) showMetrics() {
	step("Metrics: http://%s/metrics", d.metrics)
	resp, err := http.Get("http://" + d.metrics + "/metrics")
	if err == nil {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, "interlock_statements_total") || strings.HasPrefix(l, "interlock_bypass_attempts_total") ||
				strings.HasPrefix(l, "interlock_sessions_total") {
				say("%s", l)
			}
		}
		resp.Body.Close()
	}
}

// lastSession returns the id of sub's last session with statements.
func (d *demo) lastSession(sub string) string {
	f, err := os.Open(d.audit)
	if err != nil {
		return ""
	}
	defer f.Close()
	var id string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Type    string `json:"type"`
			User    string `json:"user"`
			Session string `json:"session"`
			Text    string `json:"text"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Type == "statement" && r.User == sub && strings.Contains(r.Text, "ssn") {
			id = r.Session
		}
	}
	return id
}
