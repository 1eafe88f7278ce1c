package alerts

import "sync"

// ring keeps the latest alerts for GET /v1/alerts.
type ring struct {
	mu   sync.RWMutex
	buf  []Alert
	next int
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]Alert, n)} }

func (r *ring) add(a Alert) {
	r.mu.Lock()
	r.buf[r.next] = a
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
	r.mu.Unlock()
}

// last returns up to n of the latest alerts, oldest first.
func (r *ring) last(n int) []Alert {
	r.mu.RLock()
	defer r.mu.RUnlock()
	size := r.next
	if r.full {
		size = len(r.buf)
	}
	n = min(max(n, 0), size)
	out := make([]Alert, n)
	for i := range n {
		out[i] = r.buf[(r.next-n+i+len(r.buf))%len(r.buf)]
	}
	return out
}

// subscribers fan delivered alerts out to followers.
type subscribers struct {
	mu   sync.Mutex
	subs map[chan Alert]struct{}
	done bool
}

func newSubscribers() *subscribers { return &subscribers{subs: make(map[chan Alert]struct{})} }

func (s *subscribers) add(buf int) (<-chan Alert, func()) {
	ch := make(chan Alert, max(buf, 1))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		close(ch)
		return ch, func() {}
	}
	s.subs[ch] = struct{}{}
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[ch]; ok {
			delete(s.subs, ch)
			close(ch)
		}
	}
}

// publish sends a to every follower; one that is full is dropped.
func (s *subscribers) publish(a Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- a:
		default:
			delete(s.subs, ch)
			close(ch)
		}
	}
}

func (s *subscribers) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	for ch := range s.subs {
		delete(s.subs, ch)
		close(ch)
	}
}
