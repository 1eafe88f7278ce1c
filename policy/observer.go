package policy

import "time"

// Cache names one of the engine's caches in Observer events.
type Cache string

// The caches, from the fastest to the slowest to miss.
const (
	// CacheSession is a session's memo: key text to a complete Result.
	CacheSession Cache = "session"
	// CacheDecision is the shared decision cache: (context, analysis) to a
	// Result.
	CacheDecision Cache = "decision"
	// CacheAnalysis is the shared analysis cache: key text to statements.
	CacheAnalysis Cache = "analysis"
)

// Observer receives engine events, typically to count them as metrics. Its
// methods are called on the statement hot path and must be cheap and safe
// for concurrent use.
type Observer interface {
	// CacheLookup reports one lookup in cache c. A text that cannot be
	// cached counts as a session cache miss.
	CacheLookup(c Cache, hit bool)
	// Evaluated reports one policy evaluation, its latency and its error
	// (nil when the policy produced a result, well-formed or not).
	Evaluated(d time.Duration, err error)
	// Reloaded reports a reload attempt and its error (nil on success).
	Reloaded(err error)
}

type nopObserver struct{}

func (nopObserver) CacheLookup(Cache, bool)        {}
func (nopObserver) Evaluated(time.Duration, error) {}
func (nopObserver) Reloaded(error)                 {}
