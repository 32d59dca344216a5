package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, db string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Environ: []string{"STEPUP_STORAGE=sqlite:" + db, "STEPUP_PASSWORD_HASH_MEMORY_KIB=64", "STEPUP_PASSWORD_HASH_ITERATIONS=1"}})
	return code, out.String(), errb.String()
}

func TestOperatorCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "stepup.db")
	steps := []struct {
		name      string
		stdin     string
		args      []string
		wantCode  int
		wantInOut string
	}{
		{"migrate_creates_the_database", "", []string{"migrate"}, 0, "up to date"},
		{"user_add_reads_the_password_from_stdin", "carol-password\n", []string{"user", "add", "--email", "carol@example.com", "--nnin", "01019012345", "Carol"}, 0, "user carol created"},
		{"user_add_twice_is_refused", "x\n", []string{"user", "add", "carol"}, 1, ""},
		{"user_add_refuses_a_bad_nnin", "x\n", []string{"user", "add", "--nnin", "123", "dave"}, 1, ""},
		{"user_list_shows_the_user", "", []string{"user", "list"}, 0, "carol@example.com"},
		{"user_set_totp_imports_a_secret", "JBSWY3DPEHPK3PXPJBSWY3DP\n", []string{"user", "set-totp", "carol"}, 0, "imported for carol"},
		{"user_set_totp_refuses_a_bad_secret", "not-base32!\n", []string{"user", "set-totp", "carol"}, 1, ""},
		{"user_passwd_changes_the_password", "new-password\n", []string{"user", "passwd", "carol"}, 0, "password of carol changed"},
		{"client_add_prints_a_secret_once", "", []string{"client", "add", "--id", "shop", "--redirect-uri", "https://shop.example/cb"}, 0, "secret: "},
		{"client_list_shows_the_client", "", []string{"client", "list"}, 0, "https://shop.example/cb"},
		{"keys_rotate", "", []string{"keys", "rotate"}, 0, "rotated"},
		{"client_remove", "", []string{"client", "remove", "shop"}, 0, "client shop removed"},
		{"client_remove_unknown_fails", "", []string{"client", "remove", "shop"}, 1, ""},
		{"user_remove", "", []string{"user", "remove", "carol"}, 0, "user carol removed"},
		{"unknown_command_is_a_usage_error", "", []string{"frobnicate"}, 2, ""},
		{"version", "", []string{"version"}, 0, "stepup"},
		{"help", "", []string{"help"}, 0, "stepup serve"},
	}
	for _, st := range steps {
		code, out, errOut := run(t, db, st.stdin, st.args...)
		if code != st.wantCode || !strings.Contains(out, st.wantInOut) {
			t.Fatalf("%s: exit %d (want %d), stdout %q, stderr %q", st.name, code, st.wantCode, out, errOut)
		}
	}
}

func TestUnknownEnvironmentVariableIsRefused(t *testing.T) {
	var errb bytes.Buffer
	code := Run(context.Background(), []string{"migrate"}, Env{Stdout: &bytes.Buffer{}, Stderr: &errb,
		Environ: []string{"STEPUP_LISEN=x"}})
	if code != 1 || !strings.Contains(errb.String(), "STEPUP_LISEN") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

func TestConfigFileFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "stepup.yaml")
	db := filepath.Join(dir, "from-file.db")
	if err := os.WriteFile(cfg, []byte("storage: sqlite:"+db+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"migrate"}, Env{Stdout: &out, Stderr: &errb,
		Environ: []string{"STEPUP_CONFIG=" + cfg}})
	if code != 0 || !strings.Contains(out.String(), "from-file.db") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
