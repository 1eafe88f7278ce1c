package alerts

import "time"

// dedupKey is who did what: repeats with the same key inside the dedup
// window fold into one alert. Process identity where the kernel has it;
// for tc drops (no sender) the packet's source address.
type dedupKey struct {
	kind   Kind
	action Action
	uid    int64 // -1 unknown
	cgroup string
	netns  uint64
	exe    string
	comm   string
	src    string // tc drops only: the source address without port
	dst    string
}

func keyOf(a *Alert) dedupKey {
	k := dedupKey{kind: a.Kind, action: a.Action, uid: -1, cgroup: a.Cgroup, netns: a.Netns, exe: a.Exe, comm: a.Comm, dst: a.Destination}
	if a.UID != nil {
		k.uid = int64(*a.UID)
	}
	if a.Kind == KindTCDrop && a.PID == 0 {
		k.src = hostOf(a.Source)
	}
	return k
}

// hostOf drops the port of "ip:port" / "[ip]:port".
func hostOf(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return s[:i]
		}
	}
	return s
}

// source is a key's dedup window: when it started, and the attempts since
// then that were not alerted yet (latest first as the template).
type source struct {
	start   time.Time
	pending uint64
	last    Alert
}

// admit decides whether a is alerted now. Repeats inside the window are
// added to the pending count instead.
func (p *Pipeline) admit(a *Alert) bool {
	now := p.cfg.Clock()
	k := keyOf(a)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if s, ok := p.sources[k]; ok && now.Sub(s.start) < p.cfg.DedupWindow {
		s.pending += a.Count
		s.last = *a
		p.suppress(ReasonDedup, a.Count)
		return false
	}
	if s, ok := p.sources[k]; ok {
		// Window over: this alert opens the next one and carries the count.
		a.Count += s.pending
		s.start, s.pending = now, 0
		return true
	}
	if len(p.sources) >= p.cfg.MaxSources {
		p.expireLocked(now)
		if len(p.sources) >= p.cfg.MaxSources {
			p.suppress(ReasonSources, a.Count)
			return false
		}
	}
	p.sources[k] = &source{start: now}
	return true
}

// flush alerts the pending counts of windows that ended (all of them when
// final) and forgets idle sources.
func (p *Pipeline) flush(final bool) {
	now := p.cfg.Clock()
	var out []Alert
	p.mu.Lock()
	for k, s := range p.sources {
		if !final && now.Sub(s.start) < p.cfg.DedupWindow {
			continue
		}
		if s.pending == 0 {
			delete(p.sources, k)
			continue
		}
		a := s.last
		a.Count = s.pending
		out = append(out, a)
		s.start, s.pending = now, 0
	}
	p.mu.Unlock()
	for _, a := range out {
		// Their attempts were counted as deduped; now they are alerted.
		p.emit(a)
	}
}

// expireLocked forgets sources whose window ended with nothing pending.
func (p *Pipeline) expireLocked(now time.Time) {
	for k, s := range p.sources {
		if s.pending == 0 && now.Sub(s.start) >= p.cfg.DedupWindow {
			delete(p.sources, k)
		}
	}
}
