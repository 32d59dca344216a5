package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzLoad(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "")
	}
	f.Add([]byte("clients: [{id: a, <<: {secret: s}}]"), `STEPUP_USERS=[{username: a, password: b}]`)
	f.Add([]byte("a: &a [*a]"), "STEPUP_CLIENTS=[{}]")
	f.Add([]byte("tokens: {code_ttl: 1ns}"), "STEPUP_TOKENS_CODE_TTL=-1h")
	f.Add([]byte("---\n...\n---\n"), "STEPUP_LOGIN_WINDOW=")
	f.Fuzz(func(t *testing.T, data []byte, envLine string) {
		env := strings.Split(envLine, "\n")
		c, err := LoadBytes("fuzz.yaml", data, env)
		if (c == nil) == (err == nil) {
			t.Fatalf("LoadBytes = %v, %v: want exactly one of config and error", c, err)
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		// A loaded config is complete and valid, and stays so.
		if verr := c.Validate(); verr != nil {
			t.Fatalf("loaded config does not validate: %v", verr)
		}
		before := c.String()
		c.Defaults()
		if after := c.String(); after != before {
			t.Fatalf("Defaults changed a loaded config:\n%s\n---\n%s", before, after)
		}
	})
}
