package redirect

import (
	"fmt"
	"os"
	"testing"

	"github.com/interlock-dev/interlock/testenv"
)

// helperEnv carries a helperReq: the test binary then acts as a client process.
const helperEnv = "INTERLOCK_REDIRECT_HELPER"

// clientComm is the name of the copied test binary, hence the clients' comm.
const clientComm = "ilclient"

// clientBin is a world-executable copy of the test binary, so clients can run
// under unprivileged uids (go test's build dir is private to root).
var clientBin string

func TestMain(m *testing.M) {
	if req := os.Getenv(helperEnv); req != "" {
		os.Exit(runHelper(req))
	}
	bin, cleanup, err := testenv.CopyTestBinary(clientComm)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	clientBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}
