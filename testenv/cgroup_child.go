package testenv

import "context"

// CreateChild makes a fresh child cgroup of c, for tests that attach
// programs at c and need processes below it (as production attaches at the
// root and every process lives below). Close it before c.
func (c *Cgroup) CreateChild(ctx context.Context) (*Cgroup, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return makeCgroup(c.Path, "child-", c.Rel)
}
