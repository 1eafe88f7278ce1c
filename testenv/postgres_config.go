package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// startTimeout is the pg_ctl -t value in seconds, from ctx's deadline.
func startTimeout(ctx context.Context) int {
	if d, ok := ctx.Deadline(); ok {
		return max(1, int(time.Until(d).Seconds()))
	}
	return 60
}

func (p *Postgres) initdb(ctx context.Context) error {
	pwfile := filepath.Join(p.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.SuperuserPassword+"\n"), 0o600); err != nil {
		return fmt.Errorf("write pwfile: %w", err)
	}
	defer os.Remove(pwfile)
	if err := p.owner.chown(pwfile); err != nil {
		return err
	}
	return p.owner.run(ctx, p.BinDir, "initdb",
		"-D", p.DataDir, "-U", p.Superuser, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
}

// writeHBA allows the superuser on the socket without a password and
// requires SCRAM for every other socket login and for all TCP logins.
func (p *Postgres) writeHBA(extra []string) error {
	lines := append([]string{"# written by testenv"}, extra...)
	lines = append(lines,
		"local all "+hbaQuote(p.Superuser)+" trust",
		"local all all scram-sha-256",
		"host all all 0.0.0.0/0 scram-sha-256",
		"host all all ::/0 scram-sha-256",
	)
	return p.writeFile(filepath.Join(p.DataDir, "pg_hba.conf"), strings.Join(lines, "\n")+"\n")
}

func hbaQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (p *Postgres) writeConfig(port uint16, opts PostgresOptions) error {
	addrs := make([]string, len(p.ListenAddresses))
	for i, a := range p.ListenAddresses {
		addrs[i] = a.String()
	}
	lines := []string{
		"# written by testenv",
		"listen_addresses = " + quoteLiteral(strings.Join(addrs, ",")),
		"port = " + strconv.Itoa(int(port)),
		"unix_socket_directories = " + quoteLiteral(p.SocketDir),
		"max_connections = " + strconv.Itoa(opts.MaxConnections),
		"shared_buffers = '32MB'",
		"fsync = off",
		"full_page_writes = off",
		"synchronous_commit = off",
		"password_encryption = 'scram-sha-256'",
		"logging_collector = off",
		"log_line_prefix = '%m [%p] %q%u@%d '",
		"timezone = 'UTC'",
		"log_timezone = 'UTC'",
		"datestyle = 'iso, mdy'",
		"lc_messages = 'C'",
	}
	lines = append(lines, opts.Config...)
	return p.writeFile(filepath.Join(p.DataDir, pgConfInclude), strings.Join(lines, "\n")+"\n")
}

// writeFile replaces path's content and gives it to the server's OS user.
func (p *Postgres) writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return p.owner.chown(path)
}

// includeConfig makes postgresql.conf include our settings last.
func (p *Postgres) includeConfig() error {
	f, err := os.OpenFile(filepath.Join(p.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	_, err = f.WriteString("\ninclude '" + pgConfInclude + "'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("append to postgresql.conf: %w", err)
	}
	return nil
}

// freePort finds a port free on every address.
func freePort(addrs []netip.Addr) (uint16, error) {
	for range 20 {
		l, err := net.Listen("tcp", netip.AddrPortFrom(addrs[0], 0).String())
		if err != nil {
			return 0, fmt.Errorf("find free port: %w", err)
		}
		port := uint16(l.Addr().(*net.TCPAddr).Port)
		ok := true
		var held []net.Listener
		for _, a := range addrs[1:] {
			l2, err := net.Listen("tcp", netip.AddrPortFrom(a, port).String())
			if err != nil {
				ok = false
				break
			}
			held = append(held, l2)
		}
		for _, h := range held {
			h.Close()
		}
		l.Close()
		if ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("find free port on %v: none free on all addresses", addrs)
}

func readPostmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("parse postmaster.pid: %w", err)
	}
	return pid, nil
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := statFields(b)
	return len(f) == 0 || f[0] != "Z"
}

// statFields are the fields of a /proc/<pid>/stat line after the
// parenthesised command name (which may hold spaces): state, parent pid, ...
func statFields(stat []byte) []string {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}

// dsmSegments lists the POSIX shared memory segments (PostgreSQL's dynamic
// shared memory, /dev/shm/PostgreSQL.<handle>) that the postmaster pid or
// one of its children maps. PostgreSQL removes them when it shuts down, but
// not when it is killed.
func dsmSegments(pid int) []string {
	var out []string
	for _, p := range append([]int{pid}, childProcesses(pid)...) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/maps")
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			i := strings.Index(line, "/dev/shm/PostgreSQL.")
			if i < 0 {
				continue
			}
			path := strings.TrimSuffix(strings.TrimSpace(line[i:]), " (deleted)")
			if !slices.Contains(out, path) {
				out = append(out, path)
			}
		}
	}
	return out
}

// childProcesses lists the processes whose parent is pid.
func childProcesses(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, s := range stats {
		if b, err := os.ReadFile(s); err == nil && parentPID(b) == pid {
			if child, err := strconv.Atoi(filepath.Base(filepath.Dir(s))); err == nil {
				out = append(out, child)
			}
		}
	}
	return out
}

// parentPID is the parent pid in a /proc/<pid>/stat line, or -1.
func parentPID(stat []byte) int {
	f := statFields(stat)
	if len(f) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return ppid
}
