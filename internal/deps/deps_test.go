// Package deps holds the dependency rules of the module as a test: the
// domain core stays free of HTTP servers and database drivers, and the
// public SDK packages import only what their users would accept.
package deps

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/stepup-oidc/stepup"

// imports lists each package of the module with its direct imports.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[f[0]] = f[1:]
	}
	return m
}

func TestDependencyRules(t *testing.T) {
	all := imports(t)
	tests := []struct {
		name     string
		packages []string
		allowed  func(imp string) bool
	}{
		{name: "the domain core does not import net/http or a database driver",
			packages: []string{"internal/policy", "internal/authn", "internal/authn/totp", "internal/authn/passkey",
				"internal/flow", "internal/token", "internal/keys", "internal/seal", "internal/password"},
			allowed: func(imp string) bool {
				return imp != "net/http" && imp != "database/sql" && !strings.Contains(imp, "sqlite") && !strings.Contains(imp, "pgx")
			}},
		{name: "challenge imports only the standard library", packages: []string{"challenge"},
			allowed: func(imp string) bool { return !strings.Contains(imp, ".") }},
		{name: "rs imports only the standard library, go-jose and challenge", packages: []string{"rs"},
			allowed: func(imp string) bool {
				return !strings.Contains(imp, ".") || strings.HasPrefix(imp, "github.com/go-jose/go-jose/v4") || imp == module+"/challenge"
			}},
		{name: "rp imports only the standard library, go-jose, x/oauth2 and challenge", packages: []string{"rp"},
			allowed: func(imp string) bool {
				return !strings.Contains(imp, ".") || strings.HasPrefix(imp, "github.com/go-jose/go-jose/v4") ||
					strings.HasPrefix(imp, "golang.org/x/oauth2") || imp == module+"/challenge"
			}},
		{name: "stepuptest imports only the standard library and go-jose", packages: []string{"stepuptest"},
			allowed: func(imp string) bool {
				return !strings.Contains(imp, ".") || strings.HasPrefix(imp, "github.com/go-jose/go-jose/v4")
			}},
		{name: "public packages never import internal ones", packages: []string{"rp", "rs", "challenge", "stepuptest"},
			allowed: func(imp string) bool { return !strings.HasPrefix(imp, module+"/internal/") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range tt.packages {
				imps, ok := all[module+"/"+p]
				if !ok {
					t.Errorf("package %s not found", p)
					continue
				}
				for _, imp := range imps {
					if !tt.allowed(imp) {
						t.Errorf("%s imports %s", p, imp)
					}
				}
			}
		})
	}
	if _, ok := all[module+"/internal/demobank"]; ok {
		t.Run("the demo bank imports only the public SDK of this module", func(t *testing.T) {
			for _, imp := range all[module+"/internal/demobank"] {
				if strings.HasPrefix(imp, module+"/") && !slices.Contains([]string{module + "/rp", module + "/rs", module + "/challenge"}, imp) {
					t.Errorf("internal/demobank imports %s", imp)
				}
			}
		})
	}
}
