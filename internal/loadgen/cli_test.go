package loadgen_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stepup-oidc/stepup/internal/cli"
)

// TestBenchCommandJSON runs "stepup bench --json" and reads its report.
func TestBenchCommandJSON(t *testing.T) {
	issuer := startStepup(t)
	var out bytes.Buffer
	var errOut syncBuffer
	code := cli.Run(t.Context(), []string{"bench", "--issuer", issuer, "--client-id", clientID, "--client-secret", clientSecret,
		"--redirect-uri", redirectURI, "--user", "alice", "--password", "alice-password", "--json",
		"--scenario", "discovery", "--scenario", "client_credentials,code_flow_sso", "--concurrency", "2", "--duration", "1100ms"},
		cli.Env{Stdout: &out, Stderr: &errOut})
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
	var rep struct {
		Issuer  string `json:"issuer"`
		Results []struct {
			Scenario   string  `json:"scenario"`
			Count      int     `json:"count"`
			Errors     int     `json:"errors"`
			Throughput float64 `json:"throughput_per_s"`
			P50        float64 `json:"p50_ms"`
			P99        float64 `json:"p99_ms"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if rep.Issuer != issuer || len(rep.Results) != 3 {
		t.Fatalf("report: %s", out.String())
	}
	for i, want := range []string{"discovery", "client_credentials", "code_flow_sso"} {
		r := rep.Results[i]
		if r.Scenario != want || r.Count == 0 || r.Errors != 0 || r.Throughput <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	// Each 1.1 s scenario prints one progress line to stderr.
	if n := strings.Count(errOut.String(), " ok "); n < 3 || !strings.Contains(errOut.String(), "code_flow_sso") {
		t.Errorf("progress lines on stderr:\n%s", errOut.String())
	}
}

func TestBenchCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench"},
		{"bench", "--issuer", "http://127.0.0.1:1", "--scenario", "nope"},
		{"bench", "--issuer", "http://127.0.0.1:1", "--count", "3", "--duration", "1s"},
	} {
		var out, errOut bytes.Buffer
		if code := cli.Run(t.Context(), args, cli.Env{Stdout: &out, Stderr: &errOut}); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errOut.String())
		}
	}
}
