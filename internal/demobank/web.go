package demobank

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/challenge"
	"github.com/stepup-oidc/stepup/rp"
)

// resumePrefix marks a State whose callback resumes a pending transfer.
const resumePrefix = "transfer:"

// maxLoginAge is how long a login or step-up may take at the provider.
const maxLoginAge = 15 * time.Minute

func newID() string { return strings.ToLower(rand.Text()[:12]) }

func (b *Bank) home(w http.ResponseWriter, r *http.Request) {
	s := b.session(w, r, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	data := pageData{CSRF: s.csrf, Flash: s.flash, Threshold: display(threshold), MaxAge: int(stepUpMaxAge / time.Minute)}
	s.flash = nil
	data.ACR = b.stepUpACR()
	if s.tokens != nil {
		data.LoggedIn = true
		data.Received = received(s.tokens)
		b.mu.Lock()
		c := b.customer(s.tokens.Claims.Subject, s.tokens.Claims.Name)
		data.Name = cmpOr(c.Name, s.tokens.Claims.Name, s.tokens.Claims.Subject)
		for _, a := range c.Accounts {
			data.Accounts = append(data.Accounts, accountView{ID: a.ID, Name: a.Name, Number: a.Number, Balance: display(a.Balance)})
		}
		for i := len(c.History) - 1; i >= 0; i-- {
			t := c.History[i]
			data.History = append(data.History, historyView{At: t.At.Local().Format("02.01.2006 15:04:05"), From: t.From,
				Payee: t.Payee, Amount: display(t.Amount), Approved: t.Amount > threshold})
		}
		b.mu.Unlock()
	}
	b.render(w, http.StatusOK, data)
}

func (b *Bank) login(w http.ResponseWriter, r *http.Request) {
	d, err := b.provider(r.Context())
	if err != nil {
		b.log.Warn("provider unavailable", "err", err)
		b.fail(w, http.StatusBadGateway, "Sign-in is unavailable: the bank cannot reach the identity provider.")
		return
	}
	u, st, err := d.client.AuthCodeURL(r.Context(), rp.ResumeWith("/"))
	if err != nil {
		b.log.Warn("authorization request failed", "err", err)
		b.fail(w, http.StatusBadGateway, "Sign-in is unavailable.")
		return
	}
	s := b.session(w, r, true)
	s.mu.Lock()
	s.login = st
	s.mu.Unlock()
	http.Redirect(w, r, u, http.StatusFound)
}

func (b *Bank) callback(w http.ResponseWriter, r *http.Request) {
	s := b.session(w, r, false)
	if s == nil {
		b.fail(w, http.StatusBadRequest, "No sign-in is in progress in this browser.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.login
	s.login = nil // a State serves one callback
	if st == nil || time.Since(st.Created) > maxLoginAge {
		b.fail(w, http.StatusBadRequest, "No sign-in is in progress in this browser.")
		return
	}
	pending := s.pending
	s.pending = nil
	resuming := strings.HasPrefix(st.Resume, resumePrefix)
	d, err := b.provider(r.Context())
	if err != nil {
		b.fail(w, http.StatusBadGateway, "The bank cannot reach the identity provider.")
		return
	}
	tok, err := d.client.Exchange(r.Context(), st, r.URL.Query())
	if err != nil {
		b.log.Warn("callback refused", "err", err, "step_up", resuming)
		var msg string
		switch {
		case errors.Is(err, rp.ErrStateMismatch) && resuming:
			// A second transfer replaced the one this callback confirms;
			// it stays pending, so its own confirmation can still finish.
			s.login, s.pending = st, pending
			msg = "You started another transfer; this confirmation was cancelled. Nothing was sent."
		case errors.Is(err, rp.ErrAccessDenied) && resuming:
			msg = "You declined the payment at the provider. Nothing was sent."
		case errors.Is(err, rp.ErrAccessDenied):
			msg = "Sign-in was cancelled."
		case errors.Is(err, rp.ErrSubjectChanged):
			msg = "Another user completed the confirmation. The transfer was refused."
		case errors.Is(err, rp.ErrUnmetAuthenticationRequirements):
			msg = "The provider could not authenticate you strongly enough for this transfer. Nothing was sent."
		case resuming:
			msg = "The confirmation failed. Nothing was sent."
		default:
			msg = "Sign-in failed."
		}
		s.flash = &notice{Text: msg}
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if s.tokens != nil && s.tokens.Claims.Subject != tok.Claims.Subject {
		b.resetCustomerView(s)
	}
	s.tokens = tok
	if !resuming {
		b.log.Info("signed in", "sub", tok.Claims.Subject, "acr", tok.Claims.ACR)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if pending == nil || resumePrefix+pending.ID != st.Resume {
		s.flash = &notice{Text: "The transfer to confirm was not found. Nothing was sent."}
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	// Pay only what the user approved: the granted details must describe
	// this transfer exactly. The API checks again with the access token.
	if !detailsMatch(tok.AuthorizationDetails, *pending) {
		b.log.Warn("approved details do not match the transfer", "sub", tok.Claims.Subject, "amount", decimal(pending.Amount))
		s.flash = &notice{Text: "Refused: what you approved does not match the transfer (NOK " + display(pending.Amount) + " to " + pending.Payee + "). Nothing was sent."}
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	b.execute(w, r, d, s, *pending, true)
}

// resetCustomerView drops what belonged to the previous user of s.
func (b *Bank) resetCustomerView(s *session) { s.pending, s.flash = nil, nil }

func (b *Bank) transferForm(w http.ResponseWriter, r *http.Request) {
	s := b.session(w, r, false)
	if s == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
		b.fail(w, http.StatusForbidden, "The form expired. Go back and try again.")
		return
	}
	if s.tokens == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	amount, err := parseAmount(r.PostFormValue("amount"))
	payee := strings.Join(strings.Fields(r.PostFormValue("payee")), " ")
	switch {
	case err != nil:
		s.flash = &notice{Text: "Amount: " + err.Error() + "."}
	case payee == "" || len(payee) > 70:
		s.flash = &notice{Text: "Enter the payee's name (at most 70 characters)."}
	}
	from := r.PostFormValue("from")
	if s.flash == nil {
		// Check the account before a large transfer sends the user to
		// the provider to approve a payment from it.
		b.mu.Lock()
		known := b.customer(s.tokens.Claims.Subject, s.tokens.Claims.Name).account(from) != nil
		b.mu.Unlock()
		if !known {
			s.flash = &notice{Text: "Choose one of your accounts to pay from. Nothing was sent."}
		}
	}
	if s.flash != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	d, err := b.provider(r.Context())
	if err != nil {
		b.fail(w, http.StatusBadGateway, "The bank cannot reach the identity provider.")
		return
	}
	b.execute(w, r, d, s, transfer{ID: newID(), From: from, Amount: amount, Payee: payee}, false)
}

// execute calls the bank's API with the user's access token. On a step-up
// challenge, or a missing approval, it sends the user to the provider to
// authenticate and approve exactly t (unless this is already the resumed
// attempt: then it refuses rather than loop). s.mu is held.
func (b *Bank) execute(w http.ResponseWriter, r *http.Request, d *deps, s *session, t transfer, resumed bool) {
	ans := b.callAPI(r.Context(), s.tokens.AccessToken, t)
	what := "NOK " + display(t.Amount) + " to " + t.Payee
	var ch *challenge.Challenge
	switch {
	case ans.Status == http.StatusCreated:
		s.flash = &notice{OK: true, Text: "Sent " + what + "."}
	case ans.Status == http.StatusUnauthorized && ans.Error == challenge.ErrorInsufficientUserAuthentication:
		cs, err := challenge.Parse(ans.WWWAuthenticate)
		if err != nil || len(cs) == 0 {
			s.flash = &notice{Text: "The bank's API refused the transfer."}
			break
		}
		ch = &cs[0]
	case ans.Status == http.StatusForbidden && ans.Error == errDetails && !resumed:
		// Authenticated strongly enough, but this transfer is not
		// approved yet: ask for the approval with the same requirements.
		ch = &challenge.Challenge{Scheme: "Bearer", Error: challenge.ErrorInsufficientUserAuthentication,
			ACRValues: []string{d.acr}, MaxAge: new(int(stepUpMaxAge / time.Second))}
	case ans.Status == http.StatusForbidden && ans.Error == errDetails:
		s.flash = &notice{Text: "Refused: the approval does not match " + what + ". Nothing was sent."}
	case ans.Status == http.StatusUnauthorized:
		s.tokens = nil
		s.flash = &notice{Text: "Your session with the bank expired. Log in again."}
	case ans.Status == http.StatusUnprocessableEntity:
		s.flash = &notice{Text: "Not sent: the balance is too low for " + what + "."}
	default:
		s.flash = &notice{Text: "Not sent: " + cmpOr(ans.Description, "the bank's API refused the transfer") + "."}
	}
	if ch == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if resumed {
		// The new token still does not satisfy the API: do not loop.
		s.flash = &notice{Text: "The confirmation did not meet the bank's requirements. Nothing was sent."}
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	u, st, err := d.client.StepUp(r.Context(), *ch, s.tokens,
		rp.PAR(), rp.AuthorizationDetails(t.details()), rp.ResumeWith(resumePrefix+t.ID))
	if err != nil {
		b.log.Warn("step-up request failed", "err", err)
		s.flash = &notice{Text: "The transfer needs your confirmation, but the provider is unavailable. Nothing was sent."}
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.login, s.pending = st, &t
	b.log.Info("large transfer: step-up", "sub", s.tokens.Claims.Subject, "acr_values", ch.ACRValues, "amount", decimal(t.Amount))
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// callAPI calls POST /api/transfers in-process, as an HTTP client would.
func (b *Bank) callAPI(ctx context.Context, accessToken string, t transfer) apiAnswer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.cfg.BaseURL+"/api/transfers", bytes.NewReader(apiBody(t)))
	if err != nil {
		return apiAnswer{Status: http.StatusInternalServerError}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+accessToken)
	rec := &recorder{header: http.Header{}}
	b.api(rec, req)
	ans := apiAnswer{Status: rec.status, WWWAuthenticate: strings.Join(rec.header.Values("WWW-Authenticate"), ", ")}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(rec.body.Bytes(), &e) == nil {
		ans.Error, ans.Description = e.Error, e.Description
	}
	return ans
}

// recorder is a minimal in-memory http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (b *Bank) logout(w http.ResponseWriter, r *http.Request) {
	s := b.session(w, r, false)
	if s != nil {
		s.mu.Lock()
		ok := subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) == 1
		s.mu.Unlock()
		if ok {
			b.mu.Lock()
			delete(b.sessions, s.id)
			b.mu.Unlock()
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
		}
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// received describes the current tokens for the "what the bank received"
// panel.
func received(t *rp.Tokens) *receivedView {
	v := &receivedView{Subject: t.Claims.Subject, ACR: t.Claims.ACR, AMR: strings.Join(t.Claims.AMR, " "),
		PermissionDigest: t.Claims.PermissionDigest}
	if !t.Claims.AuthTime.IsZero() {
		v.AuthTime = t.Claims.AuthTime.Local().Format("2006-01-02 15:04:05 MST")
		v.AuthAge = time.Since(t.Claims.AuthTime).Round(time.Second).String()
	}
	if len(t.AuthorizationDetails) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, t.AuthorizationDetails, "", "  ") == nil {
			v.Details = buf.String()
		} else {
			v.Details = string(t.AuthorizationDetails)
		}
	}
	if !t.Expiry.IsZero() {
		v.Expiry = t.Expiry.Local().Format("15:04:05")
	}
	return v
}
