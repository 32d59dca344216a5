package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stepup-oidc/stepup/internal/authn"
)

func TestBeginBuildsTheAuthorizationRequest(t *testing.T) {
	tests := []struct {
		name      string
		cfg       func(*Config)
		loginHint string
		want      url.Values // exact values of these parameters
		wantKeys  []string   // exactly these parameters
	}{
		{
			name:      "only the configured acr_values are forwarded and the login hint is passed through",
			cfg:       func(c *Config) { c.ACRValues = []string{testACR}; c.Scopes = []string{"profile"} },
			loginHint: "01017012345",
			want: url.Values{
				"response_type": {"code"}, "client_id": {testClientID}, "redirect_uri": {testRedirectURI},
				"scope": {"openid profile"}, "code_challenge_method": {"S256"},
				"acr_values": {testACR}, "login_hint": {"01017012345"},
			},
			wantKeys: []string{"acr_values", "client_id", "code_challenge", "code_challenge_method", "login_hint", "nonce", "redirect_uri", "response_type", "scope", "state"},
		},
		{
			name:     "several configured acr_values are sent space-separated",
			cfg:      func(c *Config) { c.ACRValues = []string{testACR, "urn:bankid:substantial"} },
			want:     url.Values{"acr_values": {testACR + " urn:bankid:substantial"}, "scope": {"openid"}},
			wantKeys: []string{"acr_values", "client_id", "code_challenge", "code_challenge_method", "nonce", "redirect_uri", "response_type", "scope", "state"},
		},
		{
			name:     "no acr_values and no login_hint are sent when none are configured or given",
			cfg:      func(c *Config) { c.ACRValues = nil },
			want:     url.Values{"response_type": {"code"}},
			wantKeys: []string{"client_id", "code_challenge", "code_challenge_method", "nonce", "redirect_uri", "response_type", "scope", "state"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, op, _ := newTestMethod(t, tc.cfg)
			authURL, err := m.Begin(context.Background(), "resume-1", tc.loginHint)
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			u, err := url.Parse(authURL)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Scheme + "://" + u.Host + u.Path; got != op.issuer()+"/authorize" {
				t.Errorf("endpoint = %s, want the upstream's authorization endpoint", got)
			}
			q := u.Query()
			for k, v := range tc.want {
				if diff := cmp.Diff(v, q[k]); diff != "" {
					t.Errorf("parameter %s (-want +got):\n%s", k, diff)
				}
			}
			var keys []string
			for k := range q {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if diff := cmp.Diff(tc.wantKeys, keys); diff != "" {
				t.Errorf("parameters (-want +got):\n%s", diff)
			}
			if len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" {
				t.Errorf("code_challenge %q / nonce %q: want an S256 challenge and a nonce", q.Get("code_challenge"), q.Get("nonce"))
			}
			if got := NameFromState(q.Get("state")); got != testName {
				t.Errorf("NameFromState = %q, want %q", got, testName)
			}
			if strings.Contains(authURL, "resume-1") {
				t.Error("the resume string travels in clear in the authorization URL")
			}
		})
	}
}

func TestBeginUsesFreshSecretsEachTime(t *testing.T) {
	m, _, _ := newTestMethod(t, nil)
	seen := map[string]bool{}
	for range 3 {
		authURL, err := m.Begin(context.Background(), "resume", "")
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(authURL)
		for _, k := range []string{"nonce", "code_challenge", "state"} {
			v := u.Query().Get(k)
			if seen[v] {
				t.Errorf("%s repeated across Begin calls", k)
			}
			seen[v] = true
		}
	}
}

func TestFinish(t *testing.T) {
	tests := []struct {
		name   string
		cfg    func(*Config)
		op     func(*fakeOP)
		claims func(map[string]any)
		// callback edits the callback query built from the issued code.
		callback func(q url.Values, clk *clock)
		wantErr  error
		check    func(t *testing.T, r Result)
	}{
		{
			name: "a valid login yields an upstream event labelled with the configured assurance",
			check: func(t *testing.T, r Result) {
				want := authn.Event{
					Method: authn.MethodUpstream, AMR: []string{"bid"},
					Factors:   []string{authn.FactorKnowledge, authn.FactorPossession},
					Assurance: "high", UpstreamACR: testACR, UpstreamAMR: []string{"bid"},
				}
				got := r.Event
				if got.Time.IsZero() {
					t.Error("event time is zero")
				}
				got.Time = time.Time{}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("event (-want +got):\n%s", diff)
				}
				if r.Subject != testSub || r.Resume != "resume-1" || r.Claims["nnin"] != testNNIN {
					t.Errorf("subject %q resume %q: want %q %q and the nnin claim", r.Subject, r.Resume, testSub, "resume-1")
				}
			},
		},
		{
			name: "an acr in the ACRMap gets its label",
			cfg: func(c *Config) {
				c.ACRMap = map[string]string{"urn:bankid:substantial": "substantial", testACR: "gold"}
			},
			claims: func(c map[string]any) { c["acr"] = "urn:bankid:substantial" },
			check:  wantAssurance("substantial", "urn:bankid:substantial"),
		},
		{
			name:   "an acr missing from a non-empty ACRMap gets no label",
			cfg:    func(c *Config) { c.ACRMap = map[string]string{testACR: "high"} },
			claims: func(c map[string]any) { c["acr"] = "urn:bankid:low" },
			check:  wantAssurance("", "urn:bankid:low"),
		},
		{
			name:   "without an ACRMap an acr other than the requested acr_values gets no label",
			claims: func(c map[string]any) { c["acr"] = "urn:bankid:substantial" },
			check:  wantAssurance("", "urn:bankid:substantial"),
		},
		{
			name:   "without acr_values or ACRMap the configured assurance is given",
			cfg:    func(c *Config) { c.ACRValues = nil },
			claims: func(c map[string]any) { c["acr"] = nil },
			check:  wantAssurance("high", ""),
		},
		{
			name: "configured AMR and factors replace the defaults",
			cfg:  func(c *Config) { c.AMR = []string{"fed", "mfa"}; c.Factors = []string{authn.FactorPossession} },
			check: func(t *testing.T, r Result) {
				if diff := cmp.Diff([]string{"fed", "mfa"}, r.Event.AMR); diff != "" {
					t.Errorf("AMR (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]string{authn.FactorPossession}, r.Event.Factors); diff != "" {
					t.Errorf("Factors (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]string{"bid"}, r.Event.UpstreamAMR); diff != "" {
					t.Errorf("UpstreamAMR (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:   "an ID token without amr records fed",
			claims: func(c map[string]any) { c["amr"] = nil },
			check: func(t *testing.T, r Result) {
				if diff := cmp.Diff([]string{"fed"}, r.Event.AMR); diff != "" || r.Event.UpstreamAMR != nil {
					t.Errorf("AMR %v UpstreamAMR %v: want [fed] and none", r.Event.AMR, r.Event.UpstreamAMR)
				}
			},
		},
		{
			name:    "a wrong nonce is refused",
			claims:  func(c map[string]any) { c["nonce"] = "not-the-nonce" },
			wantErr: ErrTokenInvalid,
		},
		{
			name:    "a missing nonce is refused",
			claims:  func(c map[string]any) { c["nonce"] = nil },
			wantErr: ErrTokenInvalid,
		},
		{
			name:    "an ID token for another audience is refused",
			claims:  func(c map[string]any) { c["aud"] = "another-client" },
			wantErr: ErrTokenInvalid,
		},
		{
			name:    "an ID token authorized for another party is refused",
			claims:  func(c map[string]any) { c["aud"] = []string{testClientID, "other"}; c["azp"] = "other" },
			wantErr: ErrTokenInvalid,
		},
		{
			name:    "an ID token with several audiences and no azp is refused",
			claims:  func(c map[string]any) { c["aud"] = []string{testClientID, "other"} },
			wantErr: ErrTokenInvalid,
		},
		{
			name:    "an ID token from another issuer is refused",
			claims:  func(c map[string]any) { c["iss"] = "https://evil.example" },
			wantErr: ErrTokenInvalid,
		},
		{
			name:    "an expired ID token is refused",
			claims:  func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() },
			wantErr: ErrTokenInvalid,
		},
		{
			name:    "an ID token without sub is refused",
			claims:  func(c map[string]any) { c["sub"] = nil },
			wantErr: ErrTokenInvalid,
		},
		{
			name:     "a tampered state is refused",
			callback: func(q url.Values, _ *clock) { q.Set("state", flipMiddle(q.Get("state"))) },
			wantErr:  ErrBadState,
		},
		{
			name:     "an expired state is refused",
			callback: func(_ url.Values, clk *clock) { clk.Advance(stateTTL + time.Second) },
			wantErr:  ErrBadState,
		},
		{
			name: "a state issued for another upstream is refused",
			callback: func(q url.Values, _ *clock) {
				_, sealed, _ := strings.Cut(q.Get("state"), ".")
				q.Set("state", "other."+sealed)
			},
			wantErr: ErrBadState,
		},
		{
			name:     "a missing state is refused",
			callback: func(q url.Values, _ *clock) { q.Del("state") },
			wantErr:  ErrBadState,
		},
		{
			name:     "a missing code is refused",
			callback: func(q url.Values, _ *clock) { q.Del("code") },
			wantErr:  ErrBadState,
		},
		{
			name:     "an iss parameter naming another issuer is refused",
			callback: func(q url.Values, _ *clock) { q.Set("iss", "https://evil.example") },
			wantErr:  ErrBadState,
		},
		{
			name:     "a missing iss parameter is refused when the upstream advertises it",
			callback: func(q url.Values, _ *clock) { q.Del("iss") },
			wantErr:  ErrBadState,
		},
		{
			name:     "a missing iss parameter is accepted when the upstream does not advertise it",
			op:       func(op *fakeOP) { op.issParam = false },
			callback: func(q url.Values, _ *clock) { q.Del("iss") },
			check:    wantAssurance("high", testACR),
		},
		{
			name:     "an iss parameter naming another issuer is refused even when not advertised",
			op:       func(op *fakeOP) { op.issParam = false },
			callback: func(q url.Values, _ *clock) { q.Set("iss", "https://evil.example") },
			wantErr:  ErrBadState,
		},
		{
			name: "an upstream error response becomes ErrUpstreamDenied",
			callback: func(q url.Values, _ *clock) {
				q.Del("code")
				q.Set("error", "access_denied")
				q.Set("error_description", "user 01017012345 cancelled")
			},
			wantErr: ErrUpstreamDenied,
		},
		{
			name:     "a code the upstream refuses is a provider error",
			callback: func(q url.Values, _ *clock) { q.Set("code", "forged") },
			wantErr:  ErrProvider,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			m, op, clk := newTestMethod(t, tc.cfg)
			if tc.op != nil {
				tc.op(op)
			}
			authURL, err := m.Begin(ctx, "resume-1", "")
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			code := op.issue(t, authURL, tc.claims)
			q := callbackFor(t, authURL, code, op.issuer())
			if tc.callback != nil {
				tc.callback(q, clk)
			}
			res, err := m.Finish(ctx, q)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Finish error = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				for _, secret := range []string{code, testNNIN, "cancelled", op.lastVerifier} {
					if secret != "" && strings.Contains(err.Error(), secret) {
						t.Errorf("error %q discloses %q", err, secret)
					}
				}
				if res.Subject != "" || res.Claims != nil || res.Event.Method != "" {
					t.Errorf("a failed Finish returned a login: %+v", res)
				}
				return
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

func wantAssurance(assurance, acr string) func(*testing.T, Result) {
	return func(t *testing.T, r Result) {
		t.Helper()
		if r.Event.Assurance != assurance || r.Event.UpstreamACR != acr {
			t.Errorf("Assurance %q UpstreamACR %q, want %q %q", r.Event.Assurance, r.Event.UpstreamACR, assurance, acr)
		}
	}
}

// flipMiddle changes one character in the middle of s (a character whose
// six bits all count, unlike the last one of unpadded base64).
func flipMiddle(s string) string {
	b := []byte(s)
	i := len(b) - len(b)/4
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestFinishReturnsTheUpstreamErrorCodeAndResume(t *testing.T) {
	tests := []struct {
		name, code, want string
	}{
		{name: "access_denied is kept", code: "access_denied", want: "access_denied"},
		{name: "login_required is kept", code: "login_required", want: "login_required"},
		{name: "characters outside an error code are dropped", code: "bad\n<script>code", want: "badscriptcode"},
		{name: "a long code is cut", code: strings.Repeat("x", 100), want: strings.Repeat("x", 64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, op, _ := newTestMethod(t, nil)
			authURL, err := m.Begin(context.Background(), "resume-1", "")
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(authURL)
			q := url.Values{"error": {tc.code}, "error_description": {"secret details"},
				"state": {u.Query().Get("state")}, "iss": {op.issuer()}}
			res, err := m.Finish(context.Background(), q)
			var de *DeniedError
			if !errors.As(err, &de) || !errors.Is(err, ErrUpstreamDenied) {
				t.Fatalf("Finish error = %v, want a DeniedError", err)
			}
			if de.Code != tc.want || strings.Contains(err.Error(), "secret details") {
				t.Errorf("code %q error %q, want code %q and no description", de.Code, err, tc.want)
			}
			if res.Resume != "resume-1" {
				t.Errorf("Resume = %q, want the transaction back", res.Resume)
			}
		})
	}
}

func TestFinishSendsThePKCEVerifierOfTheChallenge(t *testing.T) {
	ctx := context.Background()
	m, op, _ := newTestMethod(t, nil)
	authURL, err := m.Begin(ctx, "resume-1", "")
	if err != nil {
		t.Fatal(err)
	}
	q := callbackFor(t, authURL, op.issue(t, authURL, nil), op.issuer())
	u, _ := url.Parse(authURL)
	if _, err := m.Finish(ctx, q); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	sum := sha256.Sum256([]byte(op.lastVerifier))
	if !op.pkceMatched || base64.RawURLEncoding.EncodeToString(sum[:]) != u.Query().Get("code_challenge") {
		t.Errorf("the token request's code_verifier does not match the challenge of Begin")
	}
	if _, err := m.Finish(ctx, q); !errors.Is(err, ErrProvider) {
		t.Errorf("replayed callback: error = %v, want ErrProvider (code already used)", err)
	}
}

func TestDiscoveryIsRetriedAfterAFailureAndThenCached(t *testing.T) {
	ctx := context.Background()
	m, op, _ := newTestMethod(t, nil)
	op.failDiscovery = 1
	if _, err := m.Begin(ctx, "r", ""); !errors.Is(err, ErrProvider) {
		t.Fatalf("Begin with discovery down: error = %v, want ErrProvider", err)
	}
	for range 3 {
		if _, err := m.Begin(ctx, "r", ""); err != nil {
			t.Fatalf("Begin after recovery: %v", err)
		}
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.discoveryHits != 2 {
		t.Errorf("discovery fetched %d times, want 2 (one failure, then cached)", op.discoveryHits)
	}
}

func TestNewValidatesTheConfiguration(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr bool
	}{
		{name: "a complete configuration is accepted", edit: func(*Config) {}},
		{name: "an http issuer on loopback is accepted", edit: func(c *Config) { c.Issuer = "http://127.0.0.1:9000" }},
		{name: "an empty name is refused", edit: func(c *Config) { c.Name = "" }, wantErr: true},
		{name: "a name with a dot is refused", edit: func(c *Config) { c.Name = "bank.id" }, wantErr: true},
		{name: "a plain http issuer is refused", edit: func(c *Config) { c.Issuer = "http://idp.example" }, wantErr: true},
		{name: "a relative issuer is refused", edit: func(c *Config) { c.Issuer = "/idp" }, wantErr: true},
		{name: "a missing client id is refused", edit: func(c *Config) { c.ClientID = "" }, wantErr: true},
		{name: "a missing redirect URI is refused", edit: func(c *Config) { c.RedirectURI = "" }, wantErr: true},
		{name: "a sealer without secret is refused", edit: func(c *Config) { c.Sealer.Secret = nil }, wantErr: true},
		{name: "an unsupported link claim is refused", edit: func(c *Config) { c.LinkClaim = "email" }, wantErr: true},
	}
	clk := &clock{t: time.Now()}
	op := newFakeOP(t, clk)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(testConfig(op, clk, tc.edit))
			if (err != nil) != tc.wantErr {
				t.Errorf("New error = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestNewFillsInDefaults(t *testing.T) {
	clk := &clock{t: time.Now()}
	op := newFakeOP(t, clk)
	m, err := New(testConfig(op, clk, func(c *Config) {
		c.Scopes, c.Factors, c.DisplayName, c.HTTPClient, c.Now = []string{"profile"}, nil, "", nil, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.cfg.Scopes, []string{"openid", "profile"}) ||
		!slices.Equal(m.cfg.Factors, []string{authn.FactorKnowledge, authn.FactorPossession}) ||
		m.DisplayName() != testName || m.cfg.HTTPClient == nil || m.cfg.Now == nil {
		t.Errorf("defaults not filled in: %+v", m.cfg)
	}
	if m.Choice() != "upstream:"+testName || m.Name() != testName {
		t.Errorf("Choice %q Name %q", m.Choice(), m.Name())
	}
}

func TestNameFromState(t *testing.T) {
	tests := []struct{ name, state, want string }{
		{name: "the prefix names the upstream", state: "bankid-high.abc", want: "bankid-high"},
		{name: "a state without a dot names none", state: "abc", want: ""},
		{name: "an invalid name names none", state: "a b.abc", want: ""},
		{name: "an empty state names none", state: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NameFromState(tc.state); got != tc.want {
				t.Errorf("NameFromState(%q) = %q, want %q", tc.state, got, tc.want)
			}
		})
	}
}
