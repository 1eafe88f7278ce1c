package redirect

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// Only package redirect may import cilium/ebpf, so everything else builds
// and tests without eBPF (see docs/redirect.md).
func TestOnlyRedirectImportsCiliumEBPF(t *testing.T) {
	const (
		module = "github.com/interlock-dev/interlock"
		owner  = module + "/redirect"
		banned = "github.com/cilium/ebpf"
	)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test runs `go list`: install Go and put it on PATH: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-e", "-deps", "-test", "-json=ImportPath,Imports,Module,Error", "./...")
	cmd.Dir = ".." // the module root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
			Module     *struct{ Path string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Module == nil || p.Module.Path != module {
			continue
		}
		seen++
		// Test variants are listed as "pkg [pkg.test]" and "pkg_test [pkg.test]".
		path := strings.TrimSuffix(strings.Fields(p.ImportPath)[0], "_test")
		if path == owner || strings.HasPrefix(path, owner+"/") || strings.HasSuffix(path, ".test") {
			continue
		}
		for _, imp := range p.Imports {
			if imp == banned || strings.HasPrefix(imp, banned+"/") {
				t.Errorf("%s imports %s: only %s may", p.ImportPath, imp, owner)
			}
		}
	}
	if seen == 0 {
		t.Fatal("go list found no packages of this module")
	}
}
