package policy

import (
	"crypto/sha256"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/util"
)

// defaultPolicy is the policy used when Config.Paths is empty.
//
//go:embed rego/*.rego
var defaultPolicy embed.FS

// source is a loaded policy: parsed modules plus a digest of everything
// that went into it, so that a reload of identical content keeps the caches.
type source struct {
	modules map[string]*ast.Module
	digest  [sha256.Size]byte
}

// skipFile is the loader filter: it keeps *.rego files that are not tests
// and skips hidden entries below the given paths (editor swap files,
// Kubernetes' ..data directories, which would load every module twice).
func skipFile(_ string, info fs.FileInfo, depth int) bool {
	name := info.Name()
	if depth > 0 && strings.HasPrefix(name, ".") {
		return true
	}
	if info.IsDir() {
		return false
	}
	return !strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego")
}

// load reads and parses the policy from paths (or the embedded default) and
// digests it together with data.
func load(paths []string, data []byte) (*source, error) {
	fl := loader.NewFileLoader().WithRegoVersion(ast.RegoV1)
	if len(paths) == 0 {
		fl = fl.WithFS(defaultPolicy)
		paths = []string{"rego"}
	}
	res, err := fl.Filtered(paths, skipFile)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	if len(res.Modules) == 0 {
		return nil, fmt.Errorf("load policy: no .rego files in %s", strings.Join(paths, ", "))
	}
	names := make([]string, 0, len(res.Modules))
	for name := range res.Modules {
		names = append(names, name)
	}
	slices.Sort(names)
	h := sha256.New()
	src := &source{modules: make(map[string]*ast.Module, len(names))}
	for _, name := range names {
		m := res.Modules[name]
		src.modules[name] = m.Parsed
		// Length-prefixed so that no two different inputs digest the same.
		fmt.Fprintf(h, "%d:%s%d:", len(name), name, len(m.Raw))
		h.Write(m.Raw)
	}
	fmt.Fprintf(h, "data%d:", len(data))
	h.Write(data)
	h.Sum(src.digest[:0])
	return src, nil
}

// encodeData checks that data is JSON and returns its canonical encoding.
func encodeData(data map[string]any) ([]byte, map[string]any, error) {
	if data == nil {
		data = map[string]any{}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, nil, fmt.Errorf("encode policy data: %w", err)
	}
	var doc map[string]any
	if err := util.UnmarshalJSON(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("decode policy data: %w", err)
	}
	return b, doc, nil
}
