package policy

import (
	"context"
	"os"
	"testing"
)

func BenchmarkZZEvalPath(b *testing.B) {
	e := mustEngine(b, Config{Paths: []string{os.Getenv("PV")}})
	s := e.Session(ctxFor([]string{"readers"}, "dev"))
	v, _ := statementValue(sel())
	cur := e.cur.Load()
	d, _ := s.eval(context.Background(), cur, v)
	b.Log(d)
	b.ReportAllocs()
	for b.Loop() {
		s.eval(context.Background(), cur, v)
	}
}
