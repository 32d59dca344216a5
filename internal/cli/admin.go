package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn/totp"
	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/keys"
	"github.com/stepup-oidc/stepup/internal/password"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/token"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func keysCmd(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 || args[0] != "rotate" {
		return usageErr("usage: stepup keys rotate [--config FILE]")
	}
	fs, cfgPath := flags("keys rotate", env)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	return withStore(ctx, *cfgPath, env, func(c *config.Config, st store.Store) error {
		km, err := keys.New(keys.Config{Store: st, Overlap: c.Keys.Overlap.Duration()})
		if err != nil {
			return err
		}
		if err := km.Ensure(ctx); err != nil {
			return err
		}
		if err := km.Rotate(ctx); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "signing keys rotated; the previous keys stay published for %s\n", c.Keys.Overlap)
		return nil
	})
}

func clientCmd(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return usageErr("usage: stepup client add|list|remove")
	}
	sub, args := args[0], args[1:]
	fs, cfgPath := flags("client "+sub, env)
	switch sub {
	case "add":
		id := fs.String("id", "", "client `id` (required)")
		name := fs.String("name", "", "display name")
		public := fs.Bool("public", false, "public client (no secret; PKCE mandatory)")
		var redirects, logouts, grants listFlag
		fs.Var(&redirects, "redirect-uri", "redirect `URI` (repeatable)")
		fs.Var(&logouts, "post-logout-redirect-uri", "post-logout redirect `URI` (repeatable)")
		fs.Var(&grants, "grant-type", "grant `type` (repeatable; default authorization_code, refresh_token)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *id == "" {
			return usageErr("--id is required")
		}
		if len(grants) == 0 {
			grants = listFlag{"authorization_code", "refresh_token"}
		}
		return withStore(ctx, *cfgPath, env, func(c *config.Config, st store.Store) error {
			now := time.Now().UTC()
			cl := store.Client{ID: *id, Name: *name, RedirectURIs: redirects, PostLogoutRedirectURIs: logouts,
				GrantTypes: grants, TokenEndpointAuthMethod: "none", CreatedAt: now, UpdatedAt: now}
			var secret string
			if !*public {
				secret = token.Random()
				h, err := password.Hash(secret, c.PasswordHash.Params())
				if err != nil {
					return err
				}
				cl.SecretHash, cl.TokenEndpointAuthMethod = h, "client_secret_basic"
			}
			if err := st.CreateClient(ctx, cl); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return fmt.Errorf("client %q already exists", *id)
				}
				return err
			}
			fmt.Fprintf(env.Stdout, "client %s created\n", *id)
			if secret != "" {
				fmt.Fprintf(env.Stdout, "secret: %s\n(shown once; only its hash is stored)\n", secret)
			}
			return nil
		})
	case "list":
		if err := fs.Parse(args); err != nil {
			return err
		}
		return withStore(ctx, *cfgPath, env, func(_ *config.Config, st store.Store) error {
			cs, err := st.ListClients(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tAUTH\tREDIRECT URIS")
			for _, c := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Name, c.TokenEndpointAuthMethod, strings.Join(c.RedirectURIs, " "))
			}
			return tw.Flush()
		})
	case "remove":
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageErr("usage: stepup client remove [--config FILE] ID")
		}
		return withStore(ctx, *cfgPath, env, func(_ *config.Config, st store.Store) error {
			if err := st.DeleteClient(ctx, fs.Arg(0)); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no client %q", fs.Arg(0))
				}
				return err
			}
			fmt.Fprintf(env.Stdout, "client %s removed\n", fs.Arg(0))
			return nil
		})
	}
	return usageErr("unknown client command %q", sub)
}

// readPassword reads one line from stdin (the password is never an argument,
// so it stays out of shell history and the process list).
func readPassword(env Env) (string, error) {
	if env.Stdin == nil {
		return "", errors.New("no standard input to read the password from")
	}
	fmt.Fprint(env.Stderr, "password: ")
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return "", errors.New("empty password")
	}
	return line, nil
}

func userCmd(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return usageErr("usage: stepup user add|list|passwd|set-totp|remove")
	}
	sub, args := args[0], args[1:]
	fs, cfgPath := flags("user "+sub, env)
	switch sub {
	case "add":
		email := fs.String("email", "", "e-mail address")
		name := fs.String("name", "", "full name")
		nnin := fs.String("nnin", "", "national identity number (11 digits)")
		phone := fs.String("phone", "", "phone number (E.164, e.g. +4712345678)")
		birthdate := fs.String("birthdate", "", "birth date (YYYY-MM-DD)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageErr("usage: stepup user add [--config FILE] [--email E] [--name N] [--nnin N] [--phone P] [--birthdate D] USERNAME  (password on stdin)")
		}
		pw, err := readPassword(env)
		if err != nil {
			return err
		}
		return withStore(ctx, *cfgPath, env, func(c *config.Config, st store.Store) error {
			h, err := password.Hash(pw, c.PasswordHash.Params())
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			u := store.User{ID: token.ID(), Username: strings.ToLower(fs.Arg(0)), PasswordHash: h, Email: *email,
				Name: *name, NNIN: *nnin, Phone: *phone, Birthdate: *birthdate, CreatedAt: now, UpdatedAt: now}
			// The same rules as the configuration file's users entries.
			check := config.User{Username: u.Username, Password: pw, Email: u.Email, NNIN: u.NNIN, Phone: u.Phone, Birthdate: u.Birthdate}
			probe := config.Default()
			probe.Users = []config.User{check}
			if err := probe.Validate(); err != nil {
				return err
			}
			if err := st.CreateUser(ctx, u); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return fmt.Errorf("user %q already exists", fs.Arg(0))
				}
				return err
			}
			fmt.Fprintf(env.Stdout, "user %s created (sub %s)\n", u.Username, u.ID)
			return nil
		})
	case "list":
		if err := fs.Parse(args); err != nil {
			return err
		}
		return withStore(ctx, *cfgPath, env, func(_ *config.Config, st store.Store) error {
			us, err := st.ListUsers(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USERNAME\tSUB\tNAME\tEMAIL")
			for _, u := range us {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, u.ID, u.Name, u.Email)
			}
			return tw.Flush()
		})
	case "set-totp":
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageErr("usage: stepup user set-totp [--config FILE] USERNAME  (base32 secret on stdin)")
		}
		raw, err := readPassword(env)
		if err != nil {
			return err
		}
		secret, err := totp.SecretFromBase32(raw)
		if err != nil {
			return err
		}
		return withStore(ctx, *cfgPath, env, func(_ *config.Config, st store.Store) error {
			u, err := st.GetUserByUsername(ctx, fs.Arg(0))
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no user %q", fs.Arg(0))
			}
			if err != nil {
				return err
			}
			err = st.CreateCredential(ctx, store.Credential{ID: "totp-" + token.ID(), UserID: u.ID, Type: store.CredentialTOTP,
				Name: "Authenticator app (imported)", Secret: secret, CreatedAt: time.Now().UTC()})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "authenticator-app secret imported for %s\n", u.Username)
			return nil
		})
	case "passwd", "remove":
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageErr("usage: stepup user %s [--config FILE] USERNAME", sub)
		}
		var pw string
		if sub == "passwd" {
			var err error
			if pw, err = readPassword(env); err != nil {
				return err
			}
		}
		return withStore(ctx, *cfgPath, env, func(c *config.Config, st store.Store) error {
			u, err := st.GetUserByUsername(ctx, fs.Arg(0))
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no user %q", fs.Arg(0))
			}
			if err != nil {
				return err
			}
			if sub == "remove" {
				if err := st.DeleteUser(ctx, u.ID); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "user %s removed\n", u.Username)
				return nil
			}
			if u.PasswordHash, err = password.Hash(pw, c.PasswordHash.Params()); err != nil {
				return err
			}
			u.UpdatedAt = time.Now().UTC()
			if err := st.UpdateUser(ctx, u); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "password of %s changed\n", u.Username)
			return nil
		})
	}
	return usageErr("unknown user command %q", sub)
}
