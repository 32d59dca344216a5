package rp_test

import (
	"bytes"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// parsePackage parses the package's files: the library's and the tests'.
func parsePackage(t *testing.T) (fset *token.FileSet, lib, tests []*ast.File) {
	t.Helper()
	fset = token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "_test.go") {
			tests = append(tests, f)
		} else {
			lib = append(lib, f)
		}
	}
	return fset, lib, tests
}

// TestEveryExportedIdentifierHasARunnableExample: examples are the
// documentation users copy, and one without "// Output:" never runs.
// A var or const block counts as covered when any of its names, or the
// type it declares values of, has an example.
func TestEveryExportedIdentifierHasARunnableExample(t *testing.T) {
	_, lib, tests := parsePackage(t)
	examples := map[string]bool{}
	for _, ex := range doc.Examples(tests...) {
		if ex.Output == "" && !ex.EmptyOutput {
			t.Errorf("Example%s has no // Output: and never runs", exampleName(ex))
		}
		examples[ex.Name] = true
	}
	for _, f := range lib {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				name := d.Name.Name
				if d.Recv != nil {
					typ := receiverType(d.Recv.List[0].Type)
					if !ast.IsExported(typ) {
						continue
					}
					name = typ + "_" + name
				}
				if !examples[name] {
					t.Errorf("%s has no example (Example%s)", strings.Replace(name, "_", ".", 1), name)
				}
			case *ast.GenDecl:
				var names []string
				covered := false
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() && !examples[s.Name.Name] {
							t.Errorf("type %s has no example", s.Name.Name)
						}
					case *ast.ValueSpec:
						if id, ok := s.Type.(*ast.Ident); ok && examples[id.Name] {
							covered = true
						}
						for _, n := range s.Names {
							if n.IsExported() {
								names = append(names, n.Name)
								covered = covered || examples[n.Name]
							}
						}
					}
				}
				if len(names) > 0 && !covered {
					t.Errorf("none of %v has an example", names)
				}
			}
		}
	}
}

func exampleName(ex *doc.Example) string {
	if ex.Suffix == "" {
		return ex.Name
	}
	return ex.Name + "_" + ex.Suffix
}

func receiverType(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// TestImportsOnlyTheAllowedDependencies: the public SDK imports the
// standard library, go-jose, x/oauth2 and the other public packages;
// never internal/ (tests may, to start a real provider).
func TestImportsOnlyTheAllowedDependencies(t *testing.T) {
	fset, lib, _ := parsePackage(t)
	allowed := map[string]bool{
		"github.com/go-jose/go-jose/v4":           true,
		"golang.org/x/oauth2":                     true,
		"github.com/stepup-oidc/stepup/challenge": true,
	}
	for _, f := range lib {
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			std := !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
			if !std && !allowed[path] {
				t.Errorf("%s imports %s", fset.Position(f.Pos()).Filename, path)
			}
		}
	}
}

// TestDocSnippetsComeFromExamples: every Go block of the SDK guide marked
// <!-- from ExampleX --> is made of lines of ExampleX, in order, so the
// guide shows code that runs.
func TestDocSnippetsComeFromExamples(t *testing.T) {
	guide, err := os.ReadFile("../docs/sdk-relying-party.md")
	if err != nil {
		t.Fatal(err)
	}
	fset, _, tests := parsePackage(t)
	bodies := map[string][]string{}
	for _, f := range tests {
		src, err := os.ReadFile(fset.Position(f.Pos()).Filename)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && strings.HasPrefix(fd.Name.Name, "Example") {
				body := src[fset.Position(fd.Body.Lbrace).Offset:fset.Position(fd.Body.Rbrace).Offset]
				bodies[fd.Name.Name] = trimmedLines(body)
			}
		}
	}
	blocks := regexp.MustCompile("(?s)<!-- from (\\w+) -->\n```go\n(.*?)```").FindAllSubmatch(guide, -1)
	if len(blocks) < 6 {
		t.Fatalf("found %d marked snippets in the guide, want at least 6", len(blocks))
	}
	for _, b := range blocks {
		name, body := string(b[1]), bodies[string(b[1])]
		if body == nil {
			t.Errorf("the guide quotes %s, which does not exist", name)
			continue
		}
		i := 0
		for _, line := range trimmedLines(b[2]) {
			for i < len(body) && body[i] != line {
				i++
			}
			if i == len(body) {
				t.Errorf("the guide's snippet from %s has a line the example lacks (or out of order):\n%s", name, line)
				break
			}
			i++
		}
	}
}

func trimmedLines(b []byte) []string {
	var out []string
	for _, l := range bytes.Split(b, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			out = append(out, string(l))
		}
	}
	return out
}
