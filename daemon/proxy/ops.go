package proxy

import (
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// opKind is a client message that the server will answer.
type opKind uint8

const (
	opQuery opKind = iota + 1
	opParse
	opBind
	opDescribe
	opExecute
	opClose
	opSync
	opFunction
)

// op is one outstanding client request, in the order the server answers.
type op struct {
	kind opKind
	// deny, when set, replaces the server's error for this op: the
	// client's message was swapped for a failing substitute.
	deny *pgproto3.ErrorResponse
	// first is the session statement number of the first statement this op
	// runs (query: its statements are first..first+count-1; execute: one).
	first uint64
	count int
	// done counts statements of a query completed so far.
	done  int
	start time.Time
	// masks holds, per statement (query) or for the one statement
	// (execute, and the Describe injected before it), what masking
	// applies; nil when the user has no masking rules.
	masks []*maskCtx
	// internal marks a message the proxy injected (a Describe before a
	// masked Execute): its response is consumed, not forwarded.
	internal bool
}

// mask returns the masking context of the op's current statement.
func (o *op) mask() *maskCtx {
	if o.masks == nil {
		return nil
	}
	if o.kind == opQuery {
		if o.done < len(o.masks) {
			return o.masks[o.done]
		}
		return nil
	}
	return o.masks[0]
}

// opQueue is a FIFO shared by the two relay loops.
type opQueue struct {
	mu   sync.Mutex
	ring []op
	head int
	n    int
}

func (q *opQueue) push(o op) {
	q.mu.Lock()
	if q.n == len(q.ring) {
		nr := make([]op, max(8, 2*len(q.ring)))
		for i := 0; i < q.n; i++ {
			nr[i] = q.ring[(q.head+i)%len(q.ring)]
		}
		q.ring, q.head = nr, 0
	}
	q.ring[(q.head+q.n)%len(q.ring)] = o
	q.n++
	q.mu.Unlock()
}

// describeLast gives the newest op, when it is a client's Describe the
// server cannot have answered yet (not flushed), the masks of the Execute
// that follows it, so its answer builds that Execute's plan. It reports
// whether it did.
func (q *opQueue) describeLast(masks []*maskCtx, stmt uint64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return false
	}
	o := &q.ring[(q.head+q.n-1)%len(q.ring)]
	if o.kind != opDescribe || o.internal || o.masks != nil {
		return false
	}
	o.masks, o.first = masks, stmt
	return true
}

// front returns a copy of the oldest op; ok is false when none is pending.
// Only the backend loop calls front, advance and pop.
func (q *opQueue) front() (o op, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return op{}, false
	}
	return q.ring[q.head], true
}

// advance counts one more completed statement of the oldest op.
func (q *opQueue) advance() {
	q.mu.Lock()
	if q.n > 0 {
		q.ring[q.head].done++
	}
	q.mu.Unlock()
}

func (q *opQueue) pop() {
	q.mu.Lock()
	if q.n > 0 {
		q.ring[q.head] = op{}
		q.head = (q.head + 1) % len(q.ring)
		q.n--
	}
	q.mu.Unlock()
}

func (q *opQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// stmtNo is the session number of the op's current statement.
func (o *op) stmtNo() uint64 {
	if o.kind == opQuery {
		return o.first + uint64(o.done)
	}
	return o.first
}
