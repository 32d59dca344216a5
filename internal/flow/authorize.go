package flow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/policy"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/token"
)

// ErrUnsafeRedirect wraps errors that must be shown on an error page because
// the client or redirect URI could not be validated.
var ErrUnsafeRedirect = errors.New("flow: client or redirect_uri not valid")

// Transaction is a validated authorization request in progress. It travels
// sealed (see Seal) between the authorize endpoint and the login pages, so
// an unfinished login writes nothing to the store.
type Transaction struct {
	ClientID      string   `json:"c"`
	ClientName    string   `json:"cn,omitempty"`
	RedirectURI   string   `json:"r"`
	ResponseMode  string   `json:"rm"`
	Scope         []string `json:"s,omitempty"`
	State         string   `json:"st,omitempty"`
	Nonce         string   `json:"n,omitempty"`
	CodeChallenge string   `json:"cc,omitempty"`
	Prompt        []string `json:"p,omitempty"`
	MaxAge        int      `json:"ma"`
	MinACR        string   `json:"floor,omitempty"`
	ACRFallback   bool     `json:"fb,omitempty"`
	ACRValues     []string `json:"acr,omitempty"`
	EssentialACR  []string `json:"eacr,omitempty"`
	LoginHint     string   `json:"lh,omitempty"` // free text only: a username or e-mail to prefill
	HintMethod    string   `json:"hm,omitempty"` // the method login_hint asked for (a choice value)
	HintSubject   string   `json:"hs,omitempty"` // sub of a valid id_token_hint
	// Preselected is the user a login_hint named (by national identity
	// number): only they may sign in, but the pages do not reveal who it is.
	Preselected         string    `json:"pre,omitempty"`
	UILocales           []string  `json:"ui,omitempty"`
	Details             string    `json:"ad,omitempty"` // canonical authorization_details
	Approved            bool      `json:"ap,omitempty"` // the user approved Details
	Pushed              bool      `json:"par,omitempty"`
	Start               time.Time `json:"t"`
	InteractionHappened bool      `json:"i,omitempty"`
}

// CheckClient validates client_id and redirect_uri of a parsed request.
// Errors wrap ErrUnsafeRedirect: the caller renders them, never redirects.
func (s *Service) CheckClient(ctx context.Context, r *oauth.AuthorizeRequest) (store.Client, error) {
	c, err := s.cfg.Store.GetClient(ctx, r.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return c, errors.Join(ErrUnsafeRedirect, oauth.Err(oauth.InvalidRequest, "unknown client"))
	}
	if err != nil {
		return c, internal("get client", err)
	}
	if r.RedirectURI == "" {
		return c, errors.Join(ErrUnsafeRedirect, oauth.Err(oauth.InvalidRequest, "missing redirect_uri parameter"))
	}
	if !slices.Contains(c.RedirectURIs, r.RedirectURI) {
		return c, errors.Join(ErrUnsafeRedirect, oauth.Err(oauth.InvalidRequest, "redirect_uri is not registered for this client"))
	}
	return c, nil
}

// Begin turns a validated request into a transaction, applying the rules
// that need the client: grant type, PKCE for public clients, id_token_hint.
func (s *Service) Begin(ctx context.Context, c store.Client, r *oauth.AuthorizeRequest) (*Transaction, *oauth.Error) {
	if !slices.Contains(c.GrantTypes, "authorization_code") {
		return nil, oauth.Err(oauth.UnauthorizedClient, "client may not use the authorization code flow")
	}
	if c.SecretHash == "" && r.CodeChallenge == "" {
		return nil, oauth.Err(oauth.InvalidRequest, "public clients must use PKCE (code_challenge with S256)")
	}
	t := &Transaction{
		ClientID: c.ID, ClientName: c.Name, RedirectURI: r.RedirectURI, ResponseMode: r.ResponseMode,
		Scope: r.Scope, State: r.State, Nonce: r.Nonce, CodeChallenge: r.CodeChallenge,
		Prompt: r.Prompt, MaxAge: r.MaxAge, ACRValues: r.ACRValues, EssentialACR: r.EssentialACR,
		UILocales: r.UILocales, Details: r.AuthorizationDetails, MinACR: c.MinACR, ACRFallback: c.ACRFallback, Start: s.cfg.Now().Truncate(time.Microsecond),
	}
	if err := s.applyLoginHint(ctx, t, r.LoginHint); err != nil {
		return nil, err
	}
	if r.IDTokenHint != "" {
		claims, err := token.VerifyID(ctx, s.cfg.Keys, s.cfg.Issuer, r.IDTokenHint)
		if err != nil {
			return nil, oauth.Err(oauth.InvalidRequest, "id_token_hint is not a valid ID token from this issuer")
		}
		t.HintSubject = claims.Subject
	}
	return t, nil
}

// applyLoginHint reads login_hint: a username or e-mail (prefilled), an
// acr value (pursued when the request names none), or the BankID grammar —
// BIS (passkey), BID/BIM (an upstream with assurance "high"), with an
// optional national identity number that pre-selects the user.
func (s *Service) applyLoginHint(ctx context.Context, t *Transaction, hint string) *oauth.Error {
	if hint == "" {
		return nil
	}
	h, oe := oauth.ParseLoginHint(hint, func(v string) bool { _, ok := s.cfg.Policy.Lookup(v); return ok })
	if oe != nil {
		return oe
	}
	switch h.Kind {
	case oauth.HintKindFreeText:
		t.LoginHint = h.Username
	case oauth.HintKindACR:
		if len(t.ACRValues) == 0 && len(t.EssentialACR) == 0 {
			t.ACRValues = []string{h.ACR}
		}
	}
	switch h.Method {
	case oauth.HintMethodBIS:
		t.HintMethod = ChooseWebAuthn
	case oauth.HintMethodBID, oauth.HintMethodBIM:
		for _, u := range s.cfg.Upstreams {
			if u.Assurance == "high" {
				t.HintMethod = ChooseUpstream + u.Name
				break
			}
		}
	}
	if h.ID != "" {
		u, err := s.cfg.Store.GetUserByNNIN(ctx, h.ID)
		if err == nil {
			t.Preselected = u.ID
		} else {
			// Nobody may sign in for an unknown pre-selected person; the
			// pages must not reveal whether the number is known.
			t.Preselected = "unknown:" + token.ID()
		}
	}
	return nil
}

// Result is what the authorization needs next: a code to send back, a
// login page, or the approval of the request's authorization details.
// Exactly one is set.
type Result struct {
	Code    string
	Login   *LoginNeed
	Approve *ApprovalNeed
	// Done is set instead of Code for the authenticator app's own sign-in.
	Done bool
}

// ApprovalNeed asks the user to approve what the client registered.
type ApprovalNeed struct {
	Details []oauth.Detail
	// Digest is DetailsDigest of the canonical details.
	Digest string
	// Passkey is true when the approval must be signed with a passkey
	// (the user has one): its challenge then commits to Digest.
	Passkey bool
	UserID  string
}

// LoginNeed tells the login page what to ask for.
type LoginNeed struct {
	// Target is the acr level being pursued, when one is.
	Target *policy.Level
	// StepUp is true when the user is signed in and only more is needed.
	StepUp bool
	// UserID is the user who must authenticate (session, id_token_hint or
	// login_hint); empty when anyone may.
	UserID string
	// Anonymous is true when UserID came from login_hint alone: the pages
	// must not show who it is (nor what methods they have).
	Anonymous bool
	// Options are the methods to offer, best first.
	Options []Option
}

// Authorize decides the next step for t given the browser's session (nil if
// none). It never shows UI itself: it returns a code, a LoginNeed, or an
// *oauth.Error to send to the validated redirect URI.
func (s *Service) Authorize(ctx context.Context, t *Transaction, sess *store.Session) (Result, error) {
	now := s.cfg.Now()
	none := slices.Contains(t.Prompt, "none")
	if sess != nil && t.Preselected != "" && sess.UserID != t.Preselected {
		if none {
			return Result{}, oauth.Err(oauth.LoginRequired, "the signed-in user is not the user named by login_hint")
		}
		sess = nil
	}
	if sess != nil && t.HintSubject != "" && sess.UserID != t.HintSubject {
		if none || t.InteractionHappened {
			return Result{}, oauth.Err(oauth.LoginRequired, "the signed-in user is not the user named by id_token_hint")
		}
		sess = nil
	}
	var freshSince time.Time
	if slices.Contains(t.Prompt, "login") || slices.Contains(t.Prompt, "select_account") || t.MaxAge == 0 {
		freshSince = t.Start
	}
	if t.MaxAge > 0 {
		if since := now.Add(-time.Duration(t.MaxAge) * time.Second); since.After(freshSince) {
			freshSince = since
		}
	}
	var events []authn.Event
	var user *store.User
	if sess != nil {
		events = sess.Events
		u, err := s.cfg.Store.GetUser(ctx, sess.UserID)
		if err != nil {
			return Result{}, internal("get user", err)
		}
		user = &u
	} else if t.HintSubject != "" {
		if u, err := s.cfg.Store.GetUser(ctx, t.HintSubject); err == nil {
			user = &u
		}
	}
	opts, err := s.options(ctx, user, now)
	if err != nil {
		return Result{}, err
	}
	req := policy.Request{ACRValues: t.ACRValues, Essential: t.EssentialACR, Floor: t.MinACR,
		FreshSince: freshSince, EnrolledFactors: enrolledFactors(opts)}
	if user == nil {
		req.EnrolledFactors = 0
	}
	d := s.cfg.Policy.Evaluate(events, req, now)
	if d.Met {
		if need := s.approval(ctx, t, sess); need != nil {
			if none {
				return Result{}, oauth.Err(oauth.ConsentRequired, "the authorization details need the user's approval")
			}
			return Result{Approve: need}, nil
		}
		return s.complete(ctx, t, sess, d)
	}
	authenticated := sess != nil && len(fresh(events, freshSince)) > 0
	if !authenticated {
		if none {
			return Result{}, oauth.Err(oauth.LoginRequired, "the user is not signed in")
		}
		need := &LoginNeed{Target: d.Missing(), Options: opts, UserID: t.HintSubject}
		if user != nil {
			need.UserID = user.ID
		}
		if need.UserID == "" && t.Preselected != "" {
			need.UserID, need.Anonymous = t.Preselected, true
		}
		if sess != nil && slices.Contains(t.Prompt, "select_account") {
			need.UserID = ""
			need.Options, _ = s.options(ctx, nil, now)
		}
		if !d.Essential && len(d.Targets) > 0 && need.UserID != "" && !need.Anonymous {
			if h := s.helpful(events, req, nonEnroll(opts), now); len(h) > 0 {
				need.Options = h
			}
		}
		need.Options = preferHint(need.Options, t.HintMethod)
		return Result{Login: need}, nil
	}
	// Signed in, but the request is not met: pursue the first target the
	// user can reach with the methods available (enrolment included when
	// the preset allows it).
	for _, target := range d.Targets {
		treq := req
		treq.ACRValues, treq.Essential = []string{target.ACR}, nil
		h := s.helpful(fresh(events, freshSince), treq, opts, now)
		if len(h) == 0 {
			continue
		}
		if none {
			return Result{}, oauth.Err(oauth.InteractionRequired, "the requested authentication level needs user interaction")
		}
		return Result{Login: &LoginNeed{Target: target, StepUp: true, UserID: sess.UserID, Options: preferHint(h, t.HintMethod)}}, nil
	}
	if !d.Essential && (t.ACRFallback || (len(d.Targets) == 0 && len(t.EssentialACR) == 0)) {
		// The client opted out of strict acr_values, or asked for nothing
		// known: answer truthfully with the best level reached.
		if best := s.cfg.Policy.Best(events, freshSince, now); best.Met {
			return s.complete(ctx, t, sess, best)
		}
	}
	s.cfg.Observer.Unmet(t.ClientID)
	s.cfg.Logger.InfoContext(ctx, "unmet authentication requirements", "client_id", t.ClientID,
		"acr_values", t.ACRValues, "essential", t.EssentialACR)
	return Result{}, oauth.Err(oauth.UnmetAuthenticationRequirements, "the requested authentication context cannot be met")
}

// preferHint moves the method login_hint asked for to the front.
func preferHint(opts []Option, choice string) []Option {
	for i, o := range opts {
		if o.Choice == choice && i > 0 {
			out := append([]Option{o}, opts[:i]...)
			return append(out, opts[i+1:]...)
		}
	}
	return opts
}

func nonEnroll(opts []Option) []Option {
	var out []Option
	for _, o := range opts {
		if !o.Enroll {
			out = append(out, o)
		}
	}
	return out
}

// SupportedACR returns the acr values some user can reach with the methods
// Stepup offers, weakest first: what discovery may truthfully advertise.
func (s *Service) SupportedACR() []string {
	now := s.cfg.Now()
	var all []authn.Event
	all = append(all, PasswordEvent(now))
	if s.cfg.TOTP != nil {
		all = append(all, TOTPEvent(now))
	}
	if s.cfg.Passkeys != nil {
		all = append(all, PasskeyEvent(now, store.Credential{BackupEligible: !s.cfg.AttestationConfigured, Attested: s.cfg.AttestationConfigured}))
	}
	for _, o := range s.upstreamOptions(now) {
		all = append(all, o.protos...)
	}
	var out []string
	for _, l := range s.cfg.Policy.Levels {
		if s.cfg.Policy.Evaluate(all, policy.Request{ACRValues: []string{l.ACR}}, now).Met {
			out = append(out, l.ACR)
		}
	}
	return out
}

// ACRSatisfies maps each supported acr value to the supported values it
// satisfies, for discovery.
func (s *Service) ACRSatisfies() map[string][]string {
	supported := s.SupportedACR()
	ok := func(v string) bool {
		l, found := s.cfg.Policy.Lookup(v)
		return found && slices.Contains(supported, l.ACR)
	}
	out := map[string][]string{}
	for acr, sat := range s.cfg.Policy.Satisfies() {
		if !ok(acr) {
			continue
		}
		for _, v := range sat {
			if ok(v) {
				out[acr] = append(out[acr], v)
			}
		}
	}
	return out
}

func fresh(events []authn.Event, since time.Time) []authn.Event {
	var out []authn.Event
	for _, e := range events {
		if since.IsZero() || !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	return out
}

func (s *Service) complete(ctx context.Context, t *Transaction, sess *store.Session, d policy.Decision) (Result, error) {
	if t.ClientID == AppClientID {
		return Result{Done: true}, nil
	}
	now := s.cfg.Now()
	code := token.Random()
	c := store.Code{
		Hash: token.Hash(code), ClientID: t.ClientID, RedirectURI: t.RedirectURI,
		UserID: sess.UserID, SessionID: sess.ID, Scope: strings.Join(t.Scope, " "), Nonce: t.Nonce,
		CodeChallenge: t.CodeChallenge, ACR: d.ACR, AMR: d.AMR, AuthTime: d.AuthTime, AuthorizationDetails: t.Details,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.CodeTTL),
	}
	if t.CodeChallenge != "" {
		c.CodeChallengeMethod = "S256"
	}
	if err := s.cfg.Store.CreateCode(ctx, c); err != nil {
		return Result{}, internal("create code", err)
	}
	// Usage metering: which methods satisfied which acr for which client
	// (BankID bills by the first successful method).
	var methods []string
	for _, e := range sess.Events {
		if !slices.Contains(methods, e.Method) {
			methods = append(methods, e.Method)
		}
	}
	s.cfg.Observer.Authorized(t.ClientID, d.ACR)
	s.cfg.Logger.InfoContext(ctx, "audit: authorization", "client_id", t.ClientID, "user", sess.UserID,
		"acr", d.ACR, "amr", d.AMR, "methods", methods, "requested", t.ACRValues, "essential", t.EssentialACR)
	return Result{Code: code}, nil
}
