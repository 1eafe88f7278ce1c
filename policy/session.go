package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"unique"

	"github.com/interlock-dev/interlock/policy/analysis"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// Session checks the statements of one database session. It keeps a memo
// of recent texts and the session's prepared statements. A Session is not
// safe for concurrent use: a PostgreSQL session runs one message at a time.
type Session struct {
	e *Engine
	// ctxJSON is the canonical JSON of the Context and ctxDoc the same
	// decoded; ctxKey interns the part of it the policy of generation
	// keyGen reads (see inputTree): sessions with equal keys share cached
	// decisions.
	ctxJSON string
	ctxDoc  map[string]any
	ctxKey  unique.Handle[string]
	keyGen  uint64
	// items are the input members other than "statement", converted once.
	items [][2]*ast.Term
	// err is set when the context could not be encoded; everything is
	// denied.
	err error

	key, key2 []byte             // scratch buffers for cache keys
	memo      map[string]*Result // key text → Result, checked against the generation
	memoMax   int
	prepared  map[string]*prepared
}

var statementTerm = ast.StringTerm("statement")

// Session starts checking statements for one database session with a
// context that is fixed for its life.
func (e *Engine) Session(c Context) *Session {
	s := &Session{
		e:        e,
		memo:     make(map[string]*Result),
		memoMax:  e.cfg.SessionCacheSize,
		prepared: make(map[string]*prepared),
	}
	b, err := json.Marshal(c)
	if err != nil {
		s.err = fmt.Errorf("encode policy context: %w", err)
		return s
	}
	s.ctxJSON = string(b)
	if err := util.UnmarshalJSON(b, &s.ctxDoc); err != nil {
		s.err = fmt.Errorf("decode policy context: %w", err)
		return s
	}
	v, err := ast.ValueFromReader(bytes.NewReader(b))
	if err != nil {
		s.err = fmt.Errorf("convert policy context: %w", err)
		return s
	}
	obj, ok := v.(ast.Object)
	if !ok {
		s.err = fmt.Errorf("convert policy context: got %T, want an object", v)
		return s
	}
	obj.Foreach(func(k, v *ast.Term) {
		s.items = append(s.items, ast.Item(k, v))
	})
	return s
}

// input builds the policy input for one statement value.
func (s *Session) input(stmt ast.Value) ast.Value {
	items := make([][2]*ast.Term, len(s.items), len(s.items)+1)
	copy(items, s.items)
	items = append(items, ast.Item(statementTerm, ast.NewTerm(stmt)))
	return ast.NewObject(items...)
}

// eval decides one statement value with the policy in cur, logging
// evaluation failures.
func (s *Session) eval(ctx context.Context, cur *compiled, stmt ast.Value) (Decision, error) {
	d, err := cur.eval(ctx, s.input(stmt), s.e.obs)
	if err != nil {
		s.e.log.Error("policy evaluation failed, denying", logKeyError, err)
	}
	return d, err
}

// memoize remembers r for key; the memo is emptied when full.
func (s *Session) memoize(key string, r *Result) {
	if s.memoMax == 0 {
		return
	}
	if len(s.memo) >= s.memoMax {
		clear(s.memo)
	}
	s.memo[key] = r
}

// Decide decides one statement the caller analysed or built itself, e.g.
// for a FunctionCall message (Kinds: ["function_call"]). Nothing is
// cached; EXECUTE is resolved and PREPARE recorded as in Check. Like Check
// it fails closed and reports evaluation failures as an error.
func (s *Session) Decide(ctx context.Context, st *analysis.Statement) (Decision, error) {
	cur := s.e.cur.Load()
	if s.err != nil {
		return Decision{Reason: s.err.Error()}, s.err
	}
	val, err := statementValue(st)
	if err != nil {
		return Decision{Reason: err.Error()}, err
	}
	r, err := s.decide(ctx, cur, []*analysis.Statement{st}, []ast.Value{val}, nil)
	return r.Statements[0].Decision, err
}
