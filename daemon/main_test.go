package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sys/unix"

	"github.com/interlock-dev/interlock/testenv"
)

// clientEnv makes the test binary act as a database client (see runClient).
const clientEnv = "INTERLOCK_DAEMON_TEST_CLIENT"

// clientBin is a world-executable copy of the test binary: clients run under
// unprivileged uids, in the test cgroup.
var clientBin string

func TestMain(m *testing.M) {
	if dsn := os.Getenv(clientEnv); dsn != "" {
		if addr, ok := strings.CutPrefix(dsn, "rawsyn:"); ok {
			os.Exit(rawSYN(addr))
		}
		os.Exit(runClient(dsn))
	}
	bin, cleanup, err := testenv.CopyTestBinary("ilpsql")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	clientBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// clientReport is what a client process prints, one JSON object per line:
// first the connection, then one per statement read from stdin.
type clientReport struct {
	ConnectErr string   `json:"connect_err,omitempty"`
	Code       string   `json:"code,omitempty"`
	Peer       string   `json:"peer,omitempty"`
	Rows       []string `json:"rows,omitempty"`
	Err        string   `json:"err,omitempty"`
}

// runClient connects to dsn, reports, then runs each line of stdin as a
// statement (simple protocol) and reports its first column per row.
func runClient(dsn string) int {
	out := json.NewEncoder(os.Stdout)
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		_ = out.Encode(clientReport{ConnectErr: err.Error()})
		return 0
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	if strings.HasPrefix(cfg.Host, "::ffff:") {
		// An AF_INET6 socket to an IPv4-mapped address (Go would otherwise
		// dial it as plain IPv4).
		cfg.DialFunc = func(_ context.Context, _, addr string) (net.Conn, error) {
			return dialMapped(addr)
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		_ = out.Encode(clientReport{ConnectErr: err.Error(), Code: code(err)})
		return 0
	}
	defer conn.Close(ctx)
	_ = out.Encode(clientReport{Peer: conn.PgConn().Conn().RemoteAddr().String()})
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var r clientReport
		rows, err := conn.Query(ctx, sc.Text())
		if err == nil {
			for rows.Next() {
				vals := rows.RawValues()
				if len(vals) > 0 {
					r.Rows = append(r.Rows, string(vals[0]))
				}
			}
			err = rows.Err()
		}
		if err != nil {
			r.Err, r.Code = err.Error(), code(err)
		}
		_ = out.Encode(r)
	}
	return 0
}

func code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// dialMapped connects an AF_INET6 socket to an IPv4-mapped address, which
// Go's dialer would turn into an IPv4 socket.
func dialMapped(addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Connect(fd, &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "mapped")
	defer f.Close()
	return net.FileConn(f)
}

// rawSYN sends a TCP SYN to addr from a raw socket, the way a bypass
// attempt would, and reports the error of the send.
func rawSYN(addr string) int {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		fmt.Println(err)
		return 2
	}
	fmt.Println("sendto:", testenv.SendRawSYN(ap))
	return 0
}
