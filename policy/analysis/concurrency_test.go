package analysis

import (
	"sync"
	"testing"
)

// TestAnalyzeConcurrent mixes sessions with scs on and off (and failing
// parses, which leave libpg_query's thread-local setting behind) on many
// goroutines: each must see its own setting.
func TestAnalyzeConcurrent(t *testing.T) {
	const text = `SELECT 'a\' ; DROP TABLE t; --'`
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				scs := (g+i)%2 == 0
				_, _ = Analyze(`SELE) 'x\' ; --'`, Options{StandardConformingStrings: scs})
				sts, err := Analyze(text, Options{StandardConformingStrings: scs})
				want := 1
				if scs {
					want = 2
				}
				if err != nil || len(sts) != want {
					errs <- "wrong analysis under concurrency"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
