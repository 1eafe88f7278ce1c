package main

import (
	"fmt"
	"time"

	"github.com/prometheus/procfs"
)

// userHZ is the unit of the times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux ABI).
const userHZ = 100

// cpuSample is the CPU time consumed so far by a target's proxy process
// and by PostgreSQL.
type cpuSample struct {
	proxy, pg       time.Duration
	hasProxy, hasPG bool
}

// sampleCPU reads the proxy's and PostgreSQL's CPU times; a value that
// cannot be read is reported absent rather than failing the run.
func sampleCPU(st *stack, t *target) cpuSample {
	var s cpuSample
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return s
	}
	if t.Proxy != nil {
		if ticks, err := procTicks(fs, t.Proxy.PID()); err == nil {
			s.proxy, s.hasProxy = ticksToDuration(ticks), true
		}
	}
	if pid := st.pg.PID(); pid > 0 {
		if ticks, err := treeTicks(fs, pid); err == nil {
			s.pg, s.hasPG = ticksToDuration(ticks), true
		}
	}
	return s
}

// procTicks is pid's utime+stime in clock ticks (all its threads).
func procTicks(fs procfs.FS, pid int) (int64, error) {
	p, err := fs.Proc(pid)
	if err != nil {
		return 0, fmt.Errorf("proc %d: %w", pid, err)
	}
	st, err := p.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %d: %w", pid, err)
	}
	return int64(st.UTime + st.STime), nil
}

// treeTicks is the CPU of a parent and its children in clock ticks: its
// own time, its reaped children's (cutime+cstime) and its live children's.
// For PostgreSQL the parent is the postmaster and the children are the
// backends, which come and go with connections. A child that is reaped
// between reading the children and the parent would be counted twice, so
// the read is retried until no child listed first has gone.
func treeTicks(fs procfs.FS, parent int) (int64, error) {
	for range 10 {
		kids, err := childTicks(fs, parent)
		if err != nil {
			return 0, err
		}
		p, err := fs.Proc(parent)
		if err != nil {
			return 0, fmt.Errorf("proc %d: %w", parent, err)
		}
		st, err := p.Stat()
		if err != nil {
			return 0, fmt.Errorf("stat %d: %w", parent, err)
		}
		again, err := childTicks(fs, parent)
		if err != nil {
			return 0, err
		}
		stable := true
		var total int64
		for pid, t := range kids {
			if _, ok := again[pid]; !ok {
				stable = false
				break
			}
			total += t
		}
		if stable {
			return total + int64(st.UTime+st.STime) + int64(st.CUTime+st.CSTime), nil
		}
	}
	return 0, fmt.Errorf("children of %d kept exiting while sampling", parent)
}

// childTicks maps each live child of parent to its utime+stime.
func childTicks(fs procfs.FS, parent int) (map[int]int64, error) {
	procs, err := fs.AllProcs()
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	out := map[int]int64{}
	for _, p := range procs {
		st, err := p.Stat()
		if err != nil || st.PPID != parent {
			continue // gone meanwhile, or not a child
		}
		out[p.PID] = int64(st.UTime + st.STime)
	}
	return out, nil
}

func ticksToDuration(ticks int64) time.Duration {
	return time.Duration(ticks) * time.Second / userHZ
}
