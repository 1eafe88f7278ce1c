package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/interlock-dev/interlock/testenv"
)

// rawEnv makes the demo binary act as the attacker (see rawSYN).
const rawEnv = "INTERLOCK_DEMO_RAW"

// rawAttempt runs the attacker in the demo cgroup.
func (d *demo) rawAttempt(ctx context.Context) error {
	// The attacker is a copy of this binary named like the tool it plays.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(self)
	if err != nil {
		return err
	}
	attacker := filepath.Join(d.dir, "attacker", "raw-syn")
	if err := os.MkdirAll(filepath.Dir(attacker), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(attacker, b, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, attacker)
	cmd.Env = []string{rawEnv + "=syn:" + d.dbAddr}
	d.cg.Apply(cmd)
	out, err := cmd.CombinedOutput()
	say("$ raw-syn %s        (a raw IP socket crafting a TCP SYN: no connect() for the redirect to see)", d.dbAddr)
	indent(string(out))
	return err
}

// rawSYN sends a TCP SYN to addr from a raw socket.
func rawSYN(addr string) int {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		fmt.Println(err)
		return 2
	}
	if err := testenv.SendRawSYN(ap); err != nil {
		fmt.Println("sendto:", err, "— the guard dropped the packet")
	} else {
		fmt.Println("sendto returned; the guard drops the packet on its way out")
	}
	return 0
}
