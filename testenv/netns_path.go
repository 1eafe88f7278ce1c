package testenv

import (
	"fmt"
	"os"
)

// Path names the namespace for other processes while n is open:
// /proc/<this pid>/fd/<handle>. A helper process enters it with
// setns(open(Path), CLONE_NEWNET), e.g. `nsenter --net=<Path>`.
func (n *NetNS) Path() string {
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(n.ns))
}
