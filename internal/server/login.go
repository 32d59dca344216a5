package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/authn/upstream"
	"github.com/stepup-oidc/stepup/internal/flow"
	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/store"
)

// methodLabels are the button texts of the method choices.
var methodLabels = map[string]string{
	flow.ChoosePassword:      "Password",
	flow.ChooseTOTP:          "Code from an authenticator app",
	flow.ChooseRecovery:      "Recovery code",
	flow.ChooseWebAuthn:      "Passkey",
	flow.ChooseEnrollTOTP:    "Set up an authenticator app",
	flow.ChooseEnrollPasskey: "Create a passkey",
}

func labelOf(choice string, display func(string) string, tr func(string, ...any) string) string {
	if l, ok := methodLabels[choice]; ok {
		return tr(l)
	}
	if name, ok := strings.CutPrefix(choice, flow.ChooseUpstream); ok {
		return tr("Continue with %s", display(name))
	}
	return choice
}

// stepUpstream sends the browser to the upstream provider.
func (s *Server) stepUpstream(w http.ResponseWriter, r *http.Request, p page, name string) {
	to, err := s.cfg.Flow.BeginUpstream(r.Context(), name, p.sealed, s.browserBinding(r))
	if err != nil {
		s.redirectError(w, r, p.to(), err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// browserBinding ties an upstream round trip to this browser's CSRF cookie.
func (s *Server) browserBinding(r *http.Request) string {
	c, err := r.Cookie(s.csrfCookie())
	if err != nil {
		return ""
	}
	return s.cfg.Flow.CSRFToken(c.Value)
}

// upstreamCallback resumes the login after the upstream provider.
func (s *Server) upstreamCallback(w http.ResponseWriter, r *http.Request) {
	binding := s.browserBinding(r)
	sealed, res, ferr := s.cfg.Flow.FinishUpstream(r.Context(), r.URL.Query(), binding)
	if sealed == "" || binding == "" {
		s.renderError(w, r, http.StatusBadRequest, errFormExpired)
		return
	}
	p, done := s.loadStep(w, r, sealed)
	if done {
		return
	}
	name := strings.TrimPrefix(upstreamChoice(r), flow.ChooseUpstream)
	switch {
	case errors.Is(ferr, flow.ErrUpstreamDenied):
		s.showStep(w, r, http.StatusUnauthorized, p, p.tr("The sign-in at %s was cancelled.", s.cfg.Flow.UpstreamName(name)))
		return
	case ferr != nil:
		s.showStep(w, r, http.StatusBadGateway, p, p.tr("The sign-in at %s failed. Try again or choose another method.", s.cfg.Flow.UpstreamName(name)))
		return
	}
	u, err := s.cfg.Flow.LinkUpstream(r.Context(), res, name, mustBe(p))
	switch {
	case errors.Is(err, flow.ErrWrongUser):
		s.showStep(w, r, http.StatusForbidden, p, "That identity belongs to another account.")
	case errors.Is(err, flow.ErrNotLinked):
		s.showStep(w, r, http.StatusForbidden, p, "No account here is linked to that identity.")
	case err != nil:
		s.redirectError(w, r, p.to(), err)
	default:
		s.record(w, r, p, u, res.Event)
	}
}

func upstreamChoice(r *http.Request) string {
	return flow.ChooseUpstream + upstream.NameFromState(r.URL.Query().Get("state"))
}

type choice struct{ Value, Label string }

// page is the state of one login step as the handlers see it.
type page struct {
	tx      *flow.Transaction
	sealed  string
	sess    *store.Session
	need    *flow.LoginNeed
	approve *flow.ApprovalNeed
	user    *store.User // the user who must authenticate, if known
	tr      func(string, ...any) string
}

// loadStep unseals the transaction and asks the flow what it needs. done is
// true when the response was already written (a code, or an error).
func (s *Server) loadStep(w http.ResponseWriter, r *http.Request, sealed string) (p page, done bool) {
	tx, err := s.cfg.Flow.Unseal(sealed)
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, errFormExpired)
		return p, true
	}
	p = page{tx: tx, sealed: sealed, tr: s.translator(lang(r, tx.UILocales))}
	if p.sess, err = s.session(r); err != nil {
		s.redirectError(w, r, p.to(), err)
		return p, true
	}
	res, err := s.cfg.Flow.Authorize(r.Context(), tx, p.sess)
	if err != nil {
		s.redirectError(w, r, p.to(), err)
		return p, true
	}
	if res.Done {
		http.Redirect(w, r, "/app", http.StatusSeeOther)
		return p, true
	}
	if res.Code != "" {
		s.redirectCode(w, r, p.to(), res.Code)
		return p, true
	}
	p.need, p.approve = res.Login, res.Approve
	uid := ""
	if p.need != nil {
		uid = p.need.UserID
	} else {
		uid = p.approve.UserID
		p.need = &flow.LoginNeed{UserID: uid}
	}
	if uid != "" && !p.need.Anonymous {
		if u, err := s.cfg.Flow.User(r.Context(), uid); err == nil {
			p.user = &u
		}
	}
	return p, false
}

func (p page) to() authzResponse {
	return authzResponse{RedirectURI: p.tx.RedirectURI, ResponseMode: p.tx.ResponseMode, State: p.tx.State}
}

func (p page) offers(c string) bool {
	return slices.ContainsFunc(p.need.Options, func(o flow.Option) bool { return o.Choice == c })
}

// reason says in plain words why the page asks for something.
func (p page) reason() string {
	client := p.tx.ClientName
	if client == "" {
		client = p.tr("The application")
	}
	switch {
	case p.need.StepUp && p.need.Target != nil:
		return p.tr("%s asks you to confirm it is you with a stronger method (%s).", client, p.need.Target.ACR)
	case p.need.StepUp:
		return p.tr("%s asks you to confirm it is you.", client)
	case p.user != nil:
		return p.tr("%s asks you to sign in again.", client)
	}
	return p.tr("Sign in to continue to %s.", client)
}

// loginPage renders the current step.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	p, done := s.loadStep(w, r, r.URL.Query().Get("tx"))
	if done {
		return
	}
	s.showStep(w, r, http.StatusOK, p, "")
}

// showStep renders the method choice (with the password form when the
// password is one of them).
func (s *Server) showStep(w http.ResponseWriter, r *http.Request, status int, p page, msg string) {
	if p.approve != nil {
		s.showApproval(w, r, status, p, msg)
		return
	}
	data := map[string]any{"Title": "Sign in", "Reason": p.reason(), "TX": p.sealed,
		"CSRF": s.cfg.Flow.CSRFToken(s.csrf(w, r)), "Error": msg, "StepUp": p.need.StepUp, "UILocales": p.tx.UILocales}
	if p.need.StepUp {
		data["Title"] = "Confirm it's you"
	}
	if p.user != nil {
		data["Username"], data["UsernameFixed"] = p.user.Username, true
	} else if h := p.tx.LoginHint; h != "" && len(h) <= 256 && !strings.ContainsAny(h, ":") {
		data["Username"] = h
	}
	var others []choice
	for _, o := range p.need.Options {
		if o.Choice == flow.ChoosePassword {
			data["Password"] = true
			continue
		}
		others = append(others, choice{o.Choice, labelOf(o.Choice, s.cfg.Flow.UpstreamName, p.tr)})
	}
	data["Others"] = others
	if p.user == nil && p.offers(flow.ChooseWebAuthn) {
		// Username-less sign-in: the browser offers passkeys in the
		// username field's autofill (conditional UI).
		if opts, state, err := s.cfg.Flow.BeginPasskey(r.Context(), nil); err == nil {
			data["PasskeyOptions"], data["PasskeyState"], data["Conditional"] = jsonValue(opts), state, true
		}
	}
	s.renderForm(w, r, status, "login.html", data)
}

func jsonValue(b []byte) any {
	var v any
	json.Unmarshal(b, &v)
	return v
}

// login handles every step's form: the choice of a method, and each
// method's answer.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, oauth.Err(oauth.InvalidRequest, "malformed form"))
		return
	}
	if !s.checkCSRF(r) {
		s.renderError(w, r, http.StatusBadRequest, errFormExpired)
		return
	}
	p, done := s.loadStep(w, r, r.PostForm.Get("tx"))
	if done {
		return
	}
	f := r.PostForm
	if f.Get("decision") == "cancel" {
		s.redirectError(w, r, p.to(), oauth.Err(oauth.AccessDenied, "the user cancelled the sign-in"))
		return
	}
	if p.approve != nil {
		s.stepApprove(w, r, p)
		return
	}
	method := f.Get("method")
	if method == "" && f.Get("decision") == "login" {
		method = flow.ChoosePassword
	}
	if method == "continue" {
		s.next(w, r, p)
		return
	}
	if !p.offers(method) && !s.confirmsForEnrollment(r, p, method) {
		s.showStep(w, r, http.StatusBadRequest, p, "Choose one of the methods shown.")
		return
	}
	switch method {
	case flow.ChoosePassword:
		s.stepPassword(w, r, p)
	case flow.ChooseTOTP, flow.ChooseRecovery:
		s.stepCode(w, r, p, method)
	case flow.ChooseWebAuthn:
		s.stepPasskey(w, r, p)
	case flow.ChooseEnrollTOTP:
		s.stepEnrollTOTP(w, r, p)
	case flow.ChooseEnrollPasskey:
		s.stepEnrollPasskey(w, r, p)
	default:
		if name, ok := strings.CutPrefix(method, flow.ChooseUpstream); ok {
			s.stepUpstream(w, r, p, name)
			return
		}
		s.showStep(w, r, http.StatusBadRequest, p, "This method is not available here.")
	}
}

// mustBe is the only user who may authenticate on this page (the session's,
// or the one named by id_token_hint or login_hint), or "" for anyone.
func mustBe(p page) string { return p.need.UserID }

func (s *Server) stepPassword(w http.ResponseWriter, r *http.Request, p page) {
	f := r.PostForm
	username := f.Get("username")
	if p.user != nil {
		username = p.user.Username
	}
	if username == "" || f.Get("password") == "" {
		s.showStep(w, r, http.StatusBadRequest, p, "Enter your username and password.")
		return
	}
	u, ev, err := s.cfg.Flow.CheckPassword(r.Context(), username, f.Get("password"), clientIP(r), mustBe(p))
	switch {
	case errors.Is(err, flow.ErrThrottled):
		w.Header().Set("Retry-After", "60")
		s.showStep(w, r, http.StatusTooManyRequests, p, "Too many failed attempts. Wait a few minutes and try again.")
	case errors.Is(err, flow.ErrBadCredentials):
		s.showStep(w, r, http.StatusUnauthorized, p, "Wrong username or password.")
	case errors.Is(err, flow.ErrWrongUser):
		s.showStep(w, r, http.StatusForbidden, p, "Sign in as the account shown.")
	case err != nil:
		s.redirectError(w, r, p.to(), err)
	default:
		s.record(w, r, p, u, ev)
	}
}

func (s *Server) stepCode(w http.ResponseWriter, r *http.Request, p page, method string) {
	recovery := method == flow.ChooseRecovery
	data := map[string]any{"Title": "Enter your code", "Reason": p.reason(), "TX": p.sealed,
		"CSRF": s.cfg.Flow.CSRFToken(s.csrf(w, r)), "Method": method, "Recovery": recovery,
		"OfferRecovery": !recovery && p.offers(flow.ChooseRecovery), "UILocales": p.tx.UILocales}
	code := r.PostForm.Get("code")
	if code == "" || p.user == nil {
		s.renderForm(w, r, http.StatusOK, "code.html", data)
		return
	}
	ev, err := s.cfg.Flow.CheckTOTP(r.Context(), *p.user, code, recovery)
	if errors.Is(err, flow.ErrBadCode) {
		data["Error"] = "That code is wrong or was already used."
		s.renderForm(w, r, http.StatusUnauthorized, "code.html", data)
		return
	}
	if err != nil {
		s.redirectError(w, r, p.to(), err)
		return
	}
	s.record(w, r, p, *p.user, ev)
}

func (s *Server) stepPasskey(w http.ResponseWriter, r *http.Request, p page) {
	f := r.PostForm
	if resp := f.Get("response"); resp != "" {
		u, ev, err := s.cfg.Flow.FinishPasskey(r.Context(), f.Get("state"), []byte(resp), mustBe(p))
		switch {
		case errors.Is(err, flow.ErrWrongUser):
			s.showStep(w, r, http.StatusForbidden, p, "That passkey belongs to another account.")
		case errors.Is(err, flow.ErrPasskeyFailed):
			s.showStep(w, r, http.StatusUnauthorized, p, "The passkey could not be verified. Try again or choose another method.")
		case err != nil:
			s.redirectError(w, r, p.to(), err)
		default:
			s.record(w, r, p, u, ev)
		}
		return
	}
	opts, state, err := s.cfg.Flow.BeginPasskey(r.Context(), p.user)
	if err != nil {
		s.redirectError(w, r, p.to(), err)
		return
	}
	s.renderForm(w, r, http.StatusOK, "webauthn.html", map[string]any{"Title": "Use your passkey", "Reason": p.reason(),
		"TX": p.sealed, "CSRF": s.cfg.Flow.CSRFToken(s.csrf(w, r)), "State": state, "Options": jsonValue(opts),
		"Method": flow.ChooseWebAuthn, "UILocales": p.tx.UILocales})
}

// confirmsForEnrollment reports whether method is one the user must
// confirm with before the enrolment offered on this step may proceed.
func (s *Server) confirmsForEnrollment(r *http.Request, p page, method string) bool {
	if !p.offers(flow.ChooseEnrollPasskey) && !p.offers(flow.ChooseEnrollTOTP) {
		return false
	}
	missing, _ := s.cfg.Flow.CanEnroll(r.Context(), p.sess)
	return slices.ContainsFunc(missing, func(o flow.Option) bool { return o.Choice == method })
}

// enrollBlocked renders the step with the methods to confirm first when
// the session is not fresh enough to enrol.
func (s *Server) enrollBlocked(w http.ResponseWriter, r *http.Request, p page) bool {
	missing, err := s.cfg.Flow.CanEnroll(r.Context(), p.sess)
	if err == nil && len(missing) == 0 {
		return false
	}
	if len(missing) > 0 {
		p.need.Options = missing // confirm with these first
	}
	s.showStep(w, r, http.StatusForbidden, p, "Before adding a new method, confirm it is you with the methods you already have.")
	return true
}

func (s *Server) stepEnrollTOTP(w http.ResponseWriter, r *http.Request, p page) {
	if s.enrollBlocked(w, r, p) {
		return
	}
	f := r.PostForm
	data := map[string]any{"Title": "Set up an authenticator app", "TX": p.sealed,
		"CSRF": s.cfg.Flow.CSRFToken(s.csrf(w, r)), "Method": flow.ChooseEnrollTOTP, "UILocales": p.tx.UILocales}
	if sealed, code := f.Get("enrollment"), f.Get("code"); sealed != "" && code != "" {
		codes, ev, err := s.cfg.Flow.FinishTOTPEnrollment(r.Context(), p.sess, sealed, code)
		if err == nil {
			ns, handle, err := s.cfg.Flow.RecordEvent(r.Context(), p.sess, *p.user, ev)
			if err != nil {
				s.redirectError(w, r, p.to(), err)
				return
			}
			s.setSession(w, handle)
			_ = ns
			s.renderForm(w, r, http.StatusOK, "recovery.html", map[string]any{"Title": "Save your recovery codes",
				"TX": p.sealed, "CSRF": data["CSRF"], "Codes": codes, "UILocales": p.tx.UILocales})
			return
		}
		if !errors.Is(err, flow.ErrBadCode) {
			s.showStep(w, r, http.StatusBadRequest, p, "The set-up expired. Start again.")
			return
		}
		data["Error"] = "That code is wrong. Check the app and try again."
	}
	e, err := s.cfg.Flow.BeginTOTPEnrollment(r.Context(), *p.user)
	if err != nil {
		s.redirectError(w, r, p.to(), err)
		return
	}
	data["QR"], data["Secret"], data["Sealed"] = base64.StdEncoding.EncodeToString(e.QRPNG), e.Secret, e.Sealed
	s.renderForm(w, r, http.StatusOK, "code.html", data)
}

func (s *Server) stepEnrollPasskey(w http.ResponseWriter, r *http.Request, p page) {
	if s.enrollBlocked(w, r, p) {
		return
	}
	f := r.PostForm
	if resp := f.Get("response"); resp != "" {
		if err := s.cfg.Flow.FinishPasskeyEnrollment(r.Context(), p.sess, f.Get("state"), []byte(resp)); err != nil {
			s.showStep(w, r, http.StatusBadRequest, p, "The passkey could not be created. Try again or choose another method.")
			return
		}
		s.next(w, r, p)
		return
	}
	opts, state, err := s.cfg.Flow.BeginPasskeyEnrollment(r.Context(), p.sess)
	if err != nil {
		s.redirectError(w, r, p.to(), err)
		return
	}
	s.renderForm(w, r, http.StatusOK, "webauthn.html", map[string]any{"Title": "Create a passkey", "Create": true,
		"TX": p.sealed, "CSRF": s.cfg.Flow.CSRFToken(s.csrf(w, r)), "State": state, "Options": jsonValue(opts),
		"Method": flow.ChooseEnrollPasskey, "UILocales": p.tx.UILocales})
}

func (s *Server) setSession(w http.ResponseWriter, handle string) {
	http.SetCookie(w, s.cookie(s.cfg.SessionCookie, handle, int(s.cfg.Flow.SessionTTL().Seconds())))
}

// record adds the event to the session (a step-up appends; the cookie
// rotates) and moves on.
func (s *Server) record(w http.ResponseWriter, r *http.Request, p page, u store.User, ev authn.Event) {
	ns, handle, err := s.cfg.Flow.RecordEvent(r.Context(), p.sess, u, ev)
	if err != nil {
		s.redirectError(w, r, p.to(), err)
		return
	}
	s.setSession(w, handle)
	p.tx.InteractionHappened = true
	s.proceed(w, r, p.tx, ns)
}

// next re-seals the transaction and shows what comes next.
func (s *Server) next(w http.ResponseWriter, r *http.Request, p page) {
	p.tx.InteractionHappened = true
	s.proceed(w, r, p.tx, p.sess)
}
