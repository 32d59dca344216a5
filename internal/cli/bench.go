package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/stepup-oidc/stepup/internal/loadgen"
)

// scenarioList is a repeatable --scenario flag (commas also separate).
type scenarioList []string

func (s *scenarioList) String() string { return strings.Join(*s, ",") }

func (s *scenarioList) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*s = append(*s, name)
		}
	}
	return nil
}

// bench runs the load generator against an issuer (see docs/loadgen.md).
func bench(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("stepup bench", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var cfg loadgen.Config
	var scenarios scenarioList
	fs.StringVar(&cfg.Issuer, "issuer", "", "issuer `URL` of the provider to load (required)")
	fs.StringVar(&cfg.ClientID, "client-id", DemoClientID, "confidential client `id` (client_secret_basic)")
	fs.StringVar(&cfg.ClientSecret, "client-secret", DemoClientSecret, "the client's `secret`")
	fs.StringVar(&cfg.RedirectURI, "redirect-uri", DemoRedirectURI, "a registered redirect `URI` of the client (never contacted)")
	fs.StringVar(&cfg.User, "user", "alice", "`username` for the login scenarios")
	fs.StringVar(&cfg.Password, "password", "alice-password", "the user's `password`")
	fs.Var(&scenarios, "scenario", "`name` of a scenario to run, repeatable (default: all the provider supports): "+
		strings.Join(loadgen.Scenarios(), ", "))
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "concurrent workers per scenario")
	fs.DurationVar(&cfg.Duration, "duration", 0, "how long each scenario runs (default 10s)")
	fs.IntVar(&cfg.Count, "count", 0, "iterations per scenario, instead of --duration")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case cfg.Issuer == "":
		return usageErr("--issuer is required")
	case cfg.Duration > 0 && cfg.Count > 0:
		return usageErr("--duration and --count exclude each other")
	case cfg.Concurrency < 1 || cfg.Count < 0 || cfg.Duration < 0:
		return usageErr("--concurrency, --count and --duration must be positive")
	}
	known := loadgen.Scenarios()
	for _, s := range scenarios {
		if !slices.Contains(known, s) {
			return usageErr("unknown scenario %q (known: %s)", s, strings.Join(known, ", "))
		}
	}
	cfg.Scenarios = scenarios
	cfg.Progress = env.Stderr
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil && len(rep.Results) == 0 {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(rep); werr != nil {
			return fmt.Errorf("write report: %w", werr)
		}
	} else if werr := rep.WriteText(env.Stdout); werr != nil {
		return fmt.Errorf("write report: %w", werr)
	}
	if err != nil {
		return err
	}
	if n := rep.Errors(); n > 0 {
		return fmt.Errorf("%d failed iterations", n)
	}
	return nil
}
