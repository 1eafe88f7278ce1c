package redirect

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
)

// ErrReaderOpen is returned by Events while another EventReader is open.
var ErrReaderOpen = errors.New("redirect: an event reader is already open")

// userEventsCap bounds the events made in userspace and not yet read.
const userEventsCap = 4096

// minFlushInterval bounds how often the rate-limit entries are scanned.
const minFlushInterval = 100 * time.Millisecond

// userEvents queues events made in userspace (startup sweep, rate-limit
// flushes) until an EventReader takes them; when full, they are counted.
type userEvents struct {
	ch      chan Event
	dropped atomic.Uint64 // attempts in events that did not fit
}

func newUserEvents() *userEvents { return &userEvents{ch: make(chan Event, userEventsCap)} }

func (u *userEvents) push(ev Event) {
	select {
	case u.ch <- ev:
	default:
		u.dropped.Add(ev.Count)
	}
}

// EventReader delivers the bypass events of the redirect and guard programs
// (from the il_events ring buffer) and of the startup sweep, enriched from
// /proc. Attempts the kernel folded into a rate-limit entry are delivered
// once the entry's window has passed, as one event with their Count. Only
// one EventReader may be open per Redirector.
type EventReader struct {
	r      *Redirector
	rd     *ringbuf.Reader
	kq     chan Event
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	window time.Duration
}

// Events opens the event stream. Close the reader when done.
func (r *Redirector) Events() (*EventReader, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if r.reading {
		return nil, ErrReaderOpen
	}
	rd, err := ringbuf.NewReader(r.objs.IlEvents)
	if err != nil {
		return nil, fmt.Errorf("open event ring buffer: %w", err)
	}
	c, err := r.conf()
	if err != nil {
		rd.Close()
		return nil, err
	}
	window := max(time.Duration(c.RlWindowNs), minFlushInterval)
	r.reading = true
	er := &EventReader{r: r, rd: rd, kq: make(chan Event, 256), done: make(chan struct{}), window: window}
	er.wg.Add(2)
	go er.pump()
	go er.flusher()
	return er, nil
}

// Read returns the next event, blocking until there is one, ctx ends or
// the reader is closed (ErrClosed).
func (er *EventReader) Read(ctx context.Context) (Event, error) {
	select {
	case ev := <-er.r.events.ch:
		return ev, nil
	default:
	}
	select {
	case ev := <-er.r.events.ch:
		return ev, nil
	case ev := <-er.kq:
		return ev, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	case <-er.done:
		return Event{}, ErrClosed
	}
}

// Close stops the reader. Events still in the kernel stay there for the
// next reader (the ring buffer is pinned). Safe to call twice.
func (er *EventReader) Close() error {
	var err error
	er.once.Do(func() {
		close(er.done)
		err = er.rd.Close()
		er.wg.Wait()
		er.r.mu.Lock()
		er.r.reading = false
		er.r.mu.Unlock()
	})
	return err
}

// pump decodes ring buffer records until the reader closes.
func (er *EventReader) pump() {
	defer er.wg.Done()
	var (
		rec ringbuf.Record
		v   redirectIlRecord
	)
	for {
		if err := er.rd.ReadInto(&rec); err != nil {
			if errors.Is(err, ringbuf.ErrClosed) {
				return
			}
			er.r.log.Warn("read bpf events", logKeyError, err)
			continue
		}
		if _, err := binary.Decode(rec.RawSample, binary.NativeEndian, &v); err != nil {
			er.r.log.Warn("decode bpf event", logKeyError, err)
			continue
		}
		ev := decodeEvent(&v.Ev, time.Now(), bootTime(), 0)
		er.r.enrich(&ev, v.Ev.StartBoottime)
		select {
		case er.kq <- ev:
		case <-er.done:
			return
		}
	}
}

// flusher reports attempts that the kernel folded into rate-limit entries
// whose window has passed.
func (er *EventReader) flusher() {
	defer er.wg.Done()
	t := time.NewTicker(er.window)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := er.r.flushRateLimit(er.window); err != nil {
				er.r.log.Warn("flush bpf rate limit", logKeyError, err)
			}
		case <-er.done:
			return
		}
	}
}

// flushRateLimit turns rate-limit entries holding unreported attempts, and
// idle for window, into events.
func (r *Redirector) flushRateLimit(window time.Duration) error {
	var out []redirectIlRecord
	err := func() error {
		r.mu.RLock()
		defer r.mu.RUnlock()
		if r.closed {
			return ErrClosed
		}
		var (
			k    redirectIlRlKey
			v    redirectIlRecord
			keys []redirectIlRlKey
		)
		now := bootTime()
		it := r.objs.IlAlertRl.Iterate()
		for it.Next(&k, &v) {
			if v.Suppressed > 0 && now-v.LastNs >= uint64(window) {
				keys = append(keys, k)
			}
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("read rate-limit entries: %w", err)
		}
		for i := range keys {
			if err := r.objs.IlAlertRl.LookupAndDelete(&keys[i], &v); err != nil {
				if errors.Is(err, ebpf.ErrKeyNotExist) {
					continue
				}
				return fmt.Errorf("take rate-limit entry: %w", err)
			}
			if v.Suppressed > 0 {
				out = append(out, v)
			}
		}
		return nil
	}()
	// /proc is read without holding the lock.
	for i := range out {
		ev := decodeEvent(&out[i].Ev, time.Now(), bootTime(), out[i].Suppressed)
		ev.Time = time.Now()
		r.enrich(&ev, out[i].Ev.StartBoottime)
		r.events.push(ev)
	}
	return err
}

// KernelStats counts attempts the kernel did not report one by one.
type KernelStats struct {
	// Lost attempts were never reported: the ring buffer or the userspace
	// queue was full.
	Lost uint64
	// Deduped attempts were folded into a later event's Count.
	Deduped uint64
	// OverBudget attempts exceeded the per-CPU event budget; they are
	// reported later with a flush, unless their entry was evicted.
	OverBudget uint64
}

// KernelStats sums the programs' per-CPU counters.
func (r *Redirector) KernelStats() (KernelStats, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return KernelStats{}, ErrClosed
	}
	var (
		zero uint32
		per  []redirectIlStats
		out  KernelStats
	)
	if err := r.objs.IlCounters.Lookup(&zero, &per); err != nil {
		return out, fmt.Errorf("read bpf counters: %w", err)
	}
	for _, s := range per {
		out.Lost += s.Lost
		out.Deduped += s.Deduped
		out.OverBudget += s.OverBudget
	}
	out.Lost += r.events.dropped.Load()
	return out, nil
}

// enrich adds what userspace knows: the cgroup path, and the process from
// /proc. A packet event without a task (TCP may transmit from softirq) is
// attributed to the process holding the socket.
func (r *Redirector) enrich(ev *Event, startBoottime uint64) {
	if ev.Known.Has(KnownCgroup) {
		ev.Cgroup, _ = cgroupPathByID(r.cg.mount, ev.CgroupID)
	}
	switch {
	case ev.Known.Has(KnownPID) && startBoottime != 0:
		ev.Exe, ev.Cmdline = procDetails(ev.PID, startBoottime)
	case ev.Known.Has(KnownPID):
		// A raw or packet socket's sender: described only while it still
		// holds the socket, so a reused pid is never described.
		if ev.SocketInode != 0 && holds(int(ev.PID), sockTarget(ev.SocketInode)) {
			_, ev.Exe, ev.Cmdline, _, _ = procIdentity(ev.PID)
		}
	case ev.SocketInode != 0:
		if pid := holderOf(ev.SocketInode); pid != 0 {
			if comm, exe, cmdline, _, ok := procIdentity(pid); ok {
				ev.PID, ev.Comm, ev.Exe, ev.Cmdline = pid, comm, exe, cmdline
				ev.Known |= KnownPID
			}
		}
	}
}
