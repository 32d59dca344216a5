package demobank

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestUsesOnlyThePublicSDK checks that the bank is built like any other
// application: of this module it imports only rp, rs and challenge.
func TestUsesOnlyThePublicSDK(t *testing.T) {
	const module = "github.com/stepup-oidc/stepup"
	allowed := []string{module + "/rp", module + "/rs", module + "/challenge"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if (p == module || strings.HasPrefix(p, module+"/")) && !slices.Contains(allowed, p) {
				t.Errorf("%s imports %s; the demo bank may use only %v", f, p, allowed)
			}
		}
	}
	if n == 0 {
		t.Fatal("no source files checked")
	}
}
