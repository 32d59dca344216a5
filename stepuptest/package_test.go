package stepuptest_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/rs"
	"github.com/stepup-oidc/stepup/stepuptest"
)

// newAPI stands for the application under test: an API protected by rs.
func newAPI(v *rs.Verifier) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /transfer", v.Require(rs.ACR("phr"), rs.MaxAge(5*time.Minute))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("done\n")) })))
	return mux
}

// TestTransferNeedsAPasskey is the test docs/sdk-resource-server.md shows
// (TestDocsShowTheTestThatRuns checks it): how an application tests its
// step-up requirements.
func TestTransferNeedsAPasskey(t *testing.T) {
	op := stepuptest.NewServer(t)
	v, err := rs.NewVerifier(t.Context(), op.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	api := newAPI(v)
	for _, tc := range []struct {
		claims stepuptest.AccessClaims
		want   int
	}{
		{stepuptest.AccessClaims{ACR: "urn:okta:loa:2fa:any"}, http.StatusUnauthorized},
		{stepuptest.AccessClaims{ACR: "phr", AuthTime: time.Now().Add(-time.Hour)}, http.StatusUnauthorized},
		{stepuptest.AccessClaims{ACR: "phr"}, http.StatusOK},
		{stepuptest.AccessClaims{ACR: "phrh"}, http.StatusOK},
	} {
		req := httptest.NewRequest("POST", "/transfer", nil)
		req.Header.Set("Authorization", "Bearer "+op.MintAccessToken(t, tc.claims))
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("acr %s: status %d, want %d; %s", tc.claims.ACR, rec.Code, tc.want, rec.Header().Get("WWW-Authenticate"))
		}
	}
}

// TestDocsShowTheTestThatRuns: the guide's snippet is
// TestTransferNeedsAPasskey, verbatim.
func TestDocsShowTheTestThatRuns(t *testing.T) {
	doc, err := os.ReadFile("../docs/sdk-resource-server.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("package_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"func newAPI(", "func TestTransferNeedsAPasskey("} {
		i := strings.Index(string(src), name)
		j := strings.Index(string(src[i:]), "\n}\n")
		if i < 0 || j < 0 {
			t.Fatalf("package_test.go has no %s…}", name)
		}
		if snippet := string(src[i : i+j+3]); !strings.Contains(string(doc), "```go\n"+snippet+"```\n") {
			t.Errorf("docs/sdk-resource-server.md lacks this code of package_test.go:\n%s", snippet)
		}
	}
}

// parsePackage parses the package's files: the library's and the tests'.
func parsePackage(t *testing.T) (fset *token.FileSet, lib, tests []*ast.File) {
	t.Helper()
	fset = token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
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

// TestEveryExportedIdentifierHasARunnableExample: as in rp, a const block
// is covered when one of its names has an example.
func TestEveryExportedIdentifierHasARunnableExample(t *testing.T) {
	_, lib, tests := parsePackage(t)
	examples := map[string]bool{}
	for _, ex := range doc.Examples(tests...) {
		if ex.Output == "" && !ex.EmptyOutput {
			t.Errorf("Example%s has no // Output: and never runs", ex.Name)
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
					typ := d.Recv.List[0].Type
					if s, ok := typ.(*ast.StarExpr); ok {
						typ = s.X
					}
					name = typ.(*ast.Ident).Name + "_" + name
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

// TestImportsOnlyTheAllowedDependencies: stepuptest imports the standard
// library and go-jose, nothing else (its tests may import rs and rp).
func TestImportsOnlyTheAllowedDependencies(t *testing.T) {
	fset, lib, _ := parsePackage(t)
	for _, f := range lib {
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			std := !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
			if !std && path != "github.com/go-jose/go-jose/v4" {
				t.Errorf("%s imports %s", fset.Position(f.Pos()).Filename, path)
			}
		}
	}
}
