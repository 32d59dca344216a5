// Package cli implements the stepup command: serve, migrate, keys, client,
// user and version. Every command works on the store named by the same
// configuration as serve.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/stepup-oidc/stepup/internal/app"
	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/store"
)

// Env is what a command may use from its process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Environ is like os.Environ(); STEPUP_* variables override the file.
	Environ []string
	// Ready, when set, is called by serve with the address it listens on.
	Ready func(addr string)
}

const usage = `Stepup — an OpenID Connect provider built for step-up authentication.

Usage:
  stepup serve   [--config FILE] [--demo]   run the provider
  stepup migrate [--config FILE]            create or upgrade the database
  stepup keys rotate [--config FILE]        retire the signing keys and make new ones
  stepup client add|list|remove ...         manage OAuth clients
  stepup user add|list|passwd|set-totp|remove ...  manage users
  stepup bench --issuer URL [...]           load-test a provider (docs/loadgen.md)
  stepup version                            print the version

With no configuration file, stepup listens on 127.0.0.1:8080 with issuer
http://127.0.0.1:8080 and keeps its data in ./stepup.db (SQLite). Every
configuration key can also be set from the environment (STEPUP_ISSUER, …).
Run "stepup COMMAND --help" for a command's options.
`

// Run runs the command line args (without the program name) and returns
// the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], env)
	case "migrate":
		err = migrate(ctx, args[1:], env)
	case "keys":
		err = keysCmd(ctx, args[1:], env)
	case "client":
		err = clientCmd(ctx, args[1:], env)
	case "user":
		err = userCmd(ctx, args[1:], env)
	case "bench":
		err = bench(ctx, args[1:], env)
	case "version", "--version":
		fmt.Fprintln(env.Stdout, "stepup", Version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
		return 0
	default:
		fmt.Fprintf(env.Stderr, "stepup: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(env.Stderr, "stepup %s: %v\n", args[0], err)
		return 2
	}
	fmt.Fprintf(env.Stderr, "stepup %s: %v\n", args[0], err)
	return 1
}

var errUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// Version returns the module version and VCS revision of the binary.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// flags returns a FlagSet with --config, writing help to stdout.
func flags(name string, env Env) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("stepup "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cfg := fs.String("config", "", "configuration `file` (YAML); default: built-in defaults")
	return fs, cfg
}

// loadConfig reads the file named by --config, or by STEPUP_CONFIG.
func loadConfig(path string, env Env) (*config.Config, error) {
	if path == "" {
		for _, kv := range env.Environ {
			if v, ok := strings.CutPrefix(kv, config.EnvConfig+"="); ok {
				path = v
			}
		}
	}
	return config.Load(path, env.Environ)
}

func newLogger(c *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Log.SlogLevel()}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// withStore loads the configuration and opens its store for fn.
func withStore(ctx context.Context, path string, env Env, fn func(*config.Config, store.Store) error) error {
	c, err := loadConfig(path, env)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, c.Storage)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(c, st)
}

func migrate(ctx context.Context, args []string, env Env) error {
	fs, cfgPath := flags("migrate", env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return withStore(ctx, *cfgPath, env, func(c *config.Config, _ store.Store) error {
		fmt.Fprintf(env.Stdout, "database %s is up to date\n", redactDSN(c.Storage))
		return nil
	})
}

// redactDSN hides a password in a postgres URL.
func redactDSN(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if at := strings.Index(s[i+3:], "@"); at >= 0 {
			cred := s[i+3 : i+3+at]
			if u, _, ok := strings.Cut(cred, ":"); ok {
				return s[:i+3] + u + ":***" + s[i+3+at:]
			}
		}
	}
	return s
}
