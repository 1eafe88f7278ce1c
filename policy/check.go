package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/interlock-dev/interlock/policy/analysis"
	"github.com/interlock-dev/interlock/policy/sqlkey"
	"github.com/open-policy-agent/opa/v1/ast"
)

// Check decides every statement of text, one Query message (or one Parse
// message, see CheckParse), under the session's standard_conforming_strings.
//
// It always returns a non-nil Result, which fails closed: a text that does
// not parse, a policy that cannot be evaluated or returns something other
// than a decision, an EXECUTE of a statement not prepared through this
// session all deny with a reason. The error is non-nil when the policy
// could not be evaluated (the Result then denies); it is for logging.
//
// A text seen before in this session, or with the same key (the same text
// apart from literal constants), is answered from a memo without
// allocating.
func (s *Session) Check(ctx context.Context, text string, scs SCS) (*Result, error) {
	cur := s.e.cur.Load()
	if cur.closed {
		return denied(cur.gen, "policy engine is closed"), ErrClosed
	}
	if s.err != nil {
		return denied(cur.gen, s.err.Error()), s.err
	}
	key, ok := s.cacheKey(text, scs)
	if !ok {
		s.e.obs.CacheLookup(CacheSession, false)
		return s.checkText(ctx, cur, text, scs)
	}
	if r, hit := s.memo[string(key)]; hit && r.gen == cur.gen {
		s.e.obs.CacheLookup(CacheSession, true)
		return r, nil
	}
	s.e.obs.CacheLookup(CacheSession, false)
	return s.checkKeyed(ctx, cur, string(key), text, scs)
}

// Recheck is Check for a text checked before with the same
// standard_conforming_strings, such as a prepared statement run again: when
// prev (what Check or Recheck returned for it last time) is a cached
// result of the current policy generation, it is the answer, as a memo hit
// without deriving the text's cache key again. Otherwise it is Check. prev
// may be nil.
func (s *Session) Recheck(ctx context.Context, prev *Result, text string, scs SCS) (*Result, error) {
	// A reload or Close starts a new generation.
	if prev != nil && prev.Cached && s.err == nil && prev.gen == s.e.cur.Load().gen {
		s.e.obs.CacheLookup(CacheSession, true)
		return prev, nil
	}
	return s.Check(ctx, text, scs)
}

// cacheKey returns text's cache key in a scratch buffer, or false when the
// text must be analysed from scratch. A key is valid under both settings
// of standard_conforming_strings (keys only abstract literals that lex the
// same either way); when the setting is unknown the text must also produce
// the same key under both.
//
// Texts longer than Config.MaxCachedText are not cached, which bounds the
// memory the caches can hold.
func (s *Session) cacheKey(text string, scs SCS) ([]byte, bool) {
	if len(text) > s.e.cfg.MaxCachedText {
		return nil, false
	}
	var ok bool
	s.key, ok = sqlkey.Append(s.key[:0], text, scs != SCSOff)
	if !ok || scs != SCSUnknown {
		return s.key, ok
	}
	s.key2, ok = sqlkey.Append(s.key2[:0], text, false)
	return s.key, ok && bytes.Equal(s.key, s.key2)
}

// checkKeyed checks a cacheable text through the shared caches.
func (s *Session) checkKeyed(ctx context.Context, cur *compiled, key, text string, scs SCS) (*Result, error) {
	ent, hit := s.e.analyses.Get(key)
	s.e.obs.CacheLookup(CacheAnalysis, hit)
	if !hit {
		stmts, err := analysis.Analyze(text, analysis.Options{StandardConformingStrings: scs != SCSOff})
		if err != nil {
			return parseDenied(cur.gen, err, ""), nil
		}
		if ent, err = s.e.newEntry(stmts); err != nil {
			return denied(cur.gen, err.Error()), err
		}
		s.e.analyses.Add(key, ent)
	}
	if ent.stateful || cur.volatile != "" {
		// PREPARE, EXECUTE and DEALLOCATE depend on and change session
		// state, and a nondeterministic policy may decide differently
		// next time: decide every time, never memoize.
		return s.decide(ctx, cur, ent.stmts, ent.vals, nil)
	}
	dk := decisionKey{ctx: s.contextKey(cur), aid: ent.id}
	if r, hit := s.e.decisions.Get(dk); hit && r.gen == cur.gen {
		s.e.obs.CacheLookup(CacheDecision, true)
		s.memoize(key, r)
		return r, nil
	}
	s.e.obs.CacheLookup(CacheDecision, false)
	r, err := s.decide(ctx, cur, ent.stmts, ent.vals, nil)
	if err != nil {
		return r, err
	}
	shared := *r
	shared.Cached = true
	s.e.decisions.Add(dk, &shared)
	s.memoize(key, &shared)
	return r, nil
}

// checkText analyses and decides an uncacheable text. When the setting of
// standard_conforming_strings is unknown, the text must parse under both
// and every statement is decided under both.
func (s *Session) checkText(ctx context.Context, cur *compiled, text string, scs SCS) (*Result, error) {
	ent, res, err := s.analyse(cur, text, scs != SCSOff, "")
	if ent == nil {
		return res, err
	}
	if scs != SCSUnknown {
		return s.decide(ctx, cur, ent.stmts, ent.vals, nil)
	}
	off, res, err := s.analyse(cur, text, false, " (with standard_conforming_strings off)")
	if off == nil {
		return res, err
	}
	if len(off.stmts) != len(ent.stmts) {
		return denied(cur.gen, ambiguous), nil
	}
	var alt []ast.Value
	for i, v := range ent.vals {
		if v.Compare(off.vals[i]) == 0 {
			continue
		}
		if ent.stateful || off.stateful {
			return denied(cur.gen, ambiguous), nil
		}
		if alt == nil {
			alt = make([]ast.Value, len(ent.vals))
		}
		alt[i] = off.vals[i]
	}
	return s.decide(ctx, cur, ent.stmts, ent.vals, alt)
}

const ambiguous = "statement is ambiguous: it parses differently depending on standard_conforming_strings"

// analyse parses text into an uncached entry, or returns a denying Result.
func (s *Session) analyse(cur *compiled, text string, scs bool, note string) (*analysisEntry, *Result, error) {
	stmts, err := analysis.Analyze(text, analysis.Options{StandardConformingStrings: scs})
	if err != nil {
		return nil, parseDenied(cur.gen, err, note), nil
	}
	ent, err := s.e.newEntry(stmts)
	if err != nil {
		return nil, denied(cur.gen, err.Error()), err
	}
	return ent, nil, nil
}

func parseDenied(gen uint64, err error, note string) *Result {
	return denied(gen, fmt.Sprintf("statement could not be parsed%s: %v", note, err))
}

// decide evaluates each statement in order, resolving EXECUTE through the
// session's prepared statements and recording what PREPARE creates. alt,
// when not nil, holds for some statements a second analysis (under the
// other standard_conforming_strings) that must also be allowed.
func (s *Session) decide(ctx context.Context, cur *compiled, stmts []*analysis.Statement, vals, alt []ast.Value) (*Result, error) {
	checked := make([]Checked, len(stmts))
	var errs []error
	for i, st := range stmts {
		c := Checked{Index: i, Statement: st}
		var err error
		if st.Execute != "" {
			c.Decision, c.Prepared, err = s.decideExecute(ctx, cur, st)
		} else {
			c.Decision, err = s.eval(ctx, cur, vals[i])
		}
		if err == nil && !c.Decision.Denied() && alt != nil && alt[i] != nil {
			var d Decision
			d, err = s.eval(ctx, cur, alt[i])
			if !d.Allow {
				d.Reason += " (with standard_conforming_strings off)"
				if d.RequireApproval != nil {
					ap := *d.RequireApproval
					ap.Reason = d.Reason
					d.RequireApproval = &ap
				}
			}
			c.Decision = combine([]Decision{c.Decision, d}, c.Decision)
		}
		if err != nil {
			errs = append(errs, err)
		}
		// A statement held for approval may run: what it prepares counts.
		if !c.Decision.Denied() && st.Prepare != "" {
			c.Decision = s.recordPrepare(st.Prepare, st, c.Decision)
		}
		checked[i] = c
	}
	return newResult(cur.gen, checked), errors.Join(errs...)
}
