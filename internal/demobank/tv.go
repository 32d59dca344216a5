package demobank

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/stepup-oidc/stepup/rp"
)

// The smart-TV page (/tv) signs in the way a device without a keyboard
// would: with CIBA. The viewer types a username, the bank starts a
// backchannel request with a binding message it shows big, and a
// goroutine polls the provider until the user approves or denies in the
// Stepup app on their phone, or the request expires. The page refreshes
// itself every few seconds (no JavaScript).

// tvStatus is where a TV sign-in stands.
type tvStatus string

const (
	tvPending  tvStatus = "pending"
	tvApproved tvStatus = "approved"
	tvDenied   tvStatus = "denied"
	tvExpired  tvStatus = "expired"
	tvFailed   tvStatus = "failed"
)

// tvSignIn is one pending or finished TV sign-in.
type tvSignIn struct {
	mu      sync.Mutex
	user    string
	binding string
	expiry  time.Time
	status  tvStatus
	detail  string
	tokens  *rp.Tokens
	cancel  context.CancelFunc
}

// tvView is what the TV page shows.
type tvView struct {
	CSRF     string
	Status   string
	User     string
	Binding  string
	Seconds  int // until expiry
	Message  string
	Received *receivedView
	Name     string
}

func (t *tvSignIn) view() tvView {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := tvView{Status: string(t.status), User: t.user, Binding: t.binding, Message: t.detail,
		Seconds: max(0, int(time.Until(t.expiry)/time.Second))}
	if t.tokens != nil {
		v.Received = received(t.tokens)
		v.Name = cmpOr(t.tokens.Claims.Name, t.tokens.Claims.Subject)
	}
	return v
}

func (t *tvSignIn) finish(status tvStatus, detail string, tok *rp.Tokens) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status, t.detail, t.tokens = status, detail, tok
}

// tvBindingMessage is a short code to compare on both screens.
func tvBindingMessage() string {
	n, err := rand.Int(rand.Reader, big.NewInt(10000))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("TV-%04d", n.Int64())
}

func (b *Bank) tvPage(w http.ResponseWriter, r *http.Request) {
	s := b.session(w, r, true)
	s.mu.Lock()
	v := tvView{}
	if s.tv != nil {
		v = s.tv.view()
	}
	v.CSRF = s.csrf
	s.mu.Unlock()
	b.renderTV(w, http.StatusOK, v)
}

func (b *Bank) tvStart(w http.ResponseWriter, r *http.Request) {
	s := b.session(w, r, false)
	if s == nil {
		http.Redirect(w, r, "/tv", http.StatusSeeOther)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
		b.renderTV(w, http.StatusForbidden, tvView{CSRF: s.csrf, Message: "The form expired. Try again."})
		return
	}
	user := strings.TrimSpace(r.PostFormValue("username"))
	if user == "" || len(user) > 64 || strings.IndexFunc(user, unicode.IsControl) >= 0 {
		b.renderTV(w, http.StatusBadRequest, tvView{CSRF: s.csrf, Message: "Enter your username."})
		return
	}
	if s.tv != nil && s.tv.cancel != nil {
		s.tv.cancel() // a new sign-in replaces the previous one
	}
	s.tv = nil
	d, err := b.provider(r.Context())
	if err != nil {
		b.log.Warn("provider unavailable", "err", err)
		b.renderTV(w, http.StatusBadGateway, tvView{CSRF: s.csrf, Message: "Sign-in is unavailable: the bank cannot reach the identity provider."})
		return
	}
	if !d.client.SupportsBackchannel() {
		b.renderTV(w, http.StatusBadGateway, tvView{CSRF: s.csrf, Message: "The identity provider does not offer sign-in from another device (CIBA)."})
		return
	}
	req, err := d.client.Backchannel(r.Context(), rp.LoginHint(user), rp.BindingMessage(tvBindingMessage()))
	if err != nil {
		b.log.Warn("backchannel request refused", "err", err)
		msg := "Sign-in is unavailable."
		switch {
		case errors.Is(err, rp.ErrUnknownUserID):
			msg = "There is no user " + user + "."
		case errors.Is(err, rp.ErrUnauthorizedClient):
			msg = "The bank is not registered for sign-in from another device (grant type " + rp.GrantTypeCIBA + ")."
		}
		b.renderTV(w, http.StatusBadRequest, tvView{CSRF: s.csrf, Message: msg})
		return
	}
	// The poll outlives the request that started it, but not the
	// authentication request at the provider.
	ctx, cancel := context.WithDeadline(context.Background(), req.Expiry.Add(time.Minute))
	tv := &tvSignIn{user: user, binding: req.BindingMessage, expiry: req.Expiry, status: tvPending, cancel: cancel}
	s.tv = tv
	b.log.Info("tv sign-in started", "login_hint", user, "binding_message", req.BindingMessage)
	go func() {
		defer cancel()
		tok, err := d.client.Poll(ctx, req)
		switch {
		case err == nil:
			b.log.Info("tv signed in", "sub", tok.Claims.Subject, "acr", tok.Claims.ACR)
			tv.finish(tvApproved, "", tok)
		case errors.Is(err, rp.ErrAccessDenied):
			tv.finish(tvDenied, "The sign-in was denied.", nil)
		case errors.Is(err, rp.ErrExpiredToken), errors.Is(err, context.DeadlineExceeded):
			tv.finish(tvExpired, "The sign-in request expired.", nil)
		case errors.Is(err, context.Canceled):
			tv.finish(tvFailed, "The sign-in was cancelled.", nil)
		default:
			b.log.Warn("tv sign-in failed", "err", err)
			tv.finish(tvFailed, "The sign-in failed.", nil)
		}
	}()
	http.Redirect(w, r, "/tv", http.StatusSeeOther)
}

func (b *Bank) tvReset(w http.ResponseWriter, r *http.Request) {
	if s := b.session(w, r, false); s != nil {
		s.mu.Lock()
		if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) == 1 && s.tv != nil {
			if s.tv.cancel != nil {
				s.tv.cancel()
			}
			s.tv = nil
		}
		s.mu.Unlock()
	}
	http.Redirect(w, r, "/tv", http.StatusSeeOther)
}

var tvTemplate = template.Must(template.New("tv").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{{if eq .Status "pending"}}<meta http-equiv="refresh" content="3">{{end}}
<title>Demo Bank TV</title>
<style>
body { margin: 0; font: 22px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #f4f6f8; background: #101820; text-align: center; }
main { max-width: 900px; margin: 60px auto; padding: 0 24px; }
h1 { font-size: 2rem; margin: 0 0 24px; }
.binding { font-size: 4.5rem; font-weight: 800; letter-spacing: .06em; color: #7ee2b8; margin: 24px 0; }
.muted { color: #9aa5b1; font-size: 1rem; }
.bad { color: #ff8a8a; }
input { font: inherit; padding: 10px 14px; border-radius: 8px; border: 0; width: 18em; max-width: 100%; }
button { font: inherit; font-weight: 600; margin-top: 18px; background: #0b5d4b; color: #fff; border: 0; border-radius: 8px; padding: 12px 28px; cursor: pointer; }
dl { display: inline-grid; grid-template-columns: max-content 1fr; gap: 6px 18px; text-align: left; margin: 18px auto; }
dt { font-weight: 600; }
dd { margin: 0; }
</style>
</head>
<body>
<main>
<h1>Demo Bank on your TV</h1>
{{if eq .Status "pending"}}
<p class="binding">Approve <span id="binding-message">{{.Binding}}</span> in your Stepup app</p>
<p id="tv-status">Waiting for {{.User}} to approve on their phone. Check that the app shows the same code.</p>
<p class="muted">This page checks again every 3 seconds. The request expires in {{.Seconds}} s.</p>
<form method="get" action="/tv"><button type="submit">Check again</button></form>
{{else if eq .Status "approved"}}
<p id="tv-status">Signed in as <strong id="tv-name">{{.Name}}</strong></p>
{{with .Received}}<dl>
<dt>sub</dt><dd id="sub">{{.Subject}}</dd>
<dt>acr</dt><dd id="acr"><code>{{.ACR}}</code></dd>
<dt>amr</dt><dd id="amr"><code>{{.AMR}}</code></dd>
<dt>auth_time</dt><dd id="auth-time">{{.AuthTime}}</dd>
</dl>{{end}}
{{else}}
{{if .Message}}<p class="bad" id="tv-status" role="status">{{.Message}}</p>{{end}}
<form method="post" action="/tv">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<p><label for="username">Your username</label></p>
<input id="username" name="username" required maxlength="64" autocomplete="username" placeholder="alice">
<div><button type="submit">Sign in with my phone</button></div>
</form>
<p class="muted">You approve the sign-in in the Stepup app on your phone; nothing to type here but your username.</p>
{{end}}
{{if or (eq .Status "pending") (eq .Status "approved")}}
<form method="post" action="/tv/reset"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit">{{if eq .Status "approved"}}Sign out{{else}}Cancel{{end}}</button></form>
{{end}}
</main>
</body>
</html>
`))

// renderTV writes the TV page with the bank's security headers.
func (b *Bank) renderTV(w http.ResponseWriter, status int, v tvView) {
	var buf bytes.Buffer
	if err := tvTemplate.Execute(&buf, v); err != nil {
		b.log.Error("render tv", "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
