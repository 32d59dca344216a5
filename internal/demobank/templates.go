package demobank

import (
	"bytes"
	"net/http"
	"net/url"
)

type pageData struct {
	LoggedIn  bool
	Name      string
	CSRF      string
	Flash     *notice
	Accounts  []accountView
	History   []historyView
	Received  *receivedView
	Threshold string
	ACR       string
	MaxAge    int
	Error     string
}

type accountView struct{ ID, Name, Number, Balance string }

type historyView struct {
	At, From, Payee, Amount string
	Approved                bool
}

type receivedView struct {
	Subject, ACR, AMR, AuthTime, AuthAge, Details, PermissionDigest, Expiry string
}

// page is the bank's only template: the landing page, the signed-in
// overview, and error pages.
const pageTemplate = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo Bank</title>
<style>
:root { --ink: #14213d; --muted: #5c677d; --brand: #0b5d4b; --line: #dde3ea; --bg: #f4f6f8; --bad: #a4161a; --good: #1b7f3a; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header { background: var(--brand); color: #fff; padding: 14px 24px; display: flex; align-items: center; justify-content: space-between; }
header h1 { margin: 0; font-size: 1.25rem; letter-spacing: .02em; }
header form { margin: 0; }
main { max-width: 980px; margin: 24px auto; padding: 0 16px; display: grid; gap: 20px; grid-template-columns: 1fr 1fr; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 1.05rem; margin: 0 0 12px; }
table { width: 100%; border-collapse: collapse; }
td, th { padding: 8px 4px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--muted); font-size: .9rem; }
label { display: block; margin: 10px 0 4px; font-weight: 600; }
input, select { width: 100%; padding: 9px 10px; border: 1px solid #b8c2cc; border-radius: 6px; font: inherit; }
button, .button { display: inline-block; margin-top: 14px; background: var(--brand); color: #fff; border: 0; border-radius: 6px; padding: 10px 18px; font: inherit; font-weight: 600; cursor: pointer; text-decoration: none; }
header button { margin: 0; background: rgba(255,255,255,.15); }
.notice { grid-column: 1 / -1; padding: 12px 16px; border-radius: 8px; border: 1px solid; }
.notice.ok { color: var(--good); background: #eaf7ee; border-color: #b7e1c3; }
.notice.bad { color: var(--bad); background: #fdecec; border-color: #f1b8b8; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 14px; margin: 0; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
pre { margin: 0; background: #f7f9fb; border: 1px solid var(--line); border-radius: 6px; padding: 10px; font-size: .85rem; white-space: pre-wrap; }
.badge { display: inline-block; background: #e7f1ee; color: var(--brand); border-radius: 999px; padding: 0 8px; font-size: .8rem; }
.hero { grid-column: 1 / -1; text-align: center; padding: 48px 20px; }
@media (max-width: 760px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
<h1>Demo Bank</h1>
{{if .LoggedIn}}<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit">Log out</button></form>{{end}}
</header>
<main>
{{with .Flash}}<div class="notice {{if .OK}}ok{{else}}bad{{end}}" id="notice" role="status">{{.Text}}</div>{{end}}
{{if .Error}}
<section class="hero"><h2>Something went wrong</h2><p id="error">{{.Error}}</p><p><a class="button" href="/">Back to the bank</a></p></section>
{{else if not .LoggedIn}}
<section class="hero">
<h2>Welcome to Demo Bank</h2>
<p>Online banking secured by step-up authentication: log in with a password, confirm large transfers with a stronger method and approve exactly what you pay.</p>
<p><a class="button" id="login" href="/login">Log in with Stepup</a></p>
<p class="muted">Demo users: alice / alice-password, bob / bob-password.</p>
</section>
{{else}}
<section>
<h2>Accounts for <span id="customer">{{.Name}}</span></h2>
<table>
{{range .Accounts}}<tr><td>{{.Name}}<br><span class="muted">{{.Number}}</span></td><td class="num" id="balance-{{.ID}}">NOK {{.Balance}}</td></tr>
{{end}}</table>
</section>
<section>
<h2>New transfer</h2>
<form method="post" action="/transfer">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="from">From</label>
<select id="from" name="from">{{range .Accounts}}<option value="{{.ID}}">{{.Name}} (NOK {{.Balance}})</option>{{end}}</select>
<label for="payee">Payee</label>
<input id="payee" name="payee" required maxlength="70" placeholder="Acme AS" autocomplete="off">
<label for="amount">Amount (NOK)</label>
<input id="amount" name="amount" required inputmode="decimal" placeholder="1 500,00" autocomplete="off">
<button type="submit">Send</button>
</form>
<p class="muted">Up to NOK {{.Threshold}} goes straight through. Above that you confirm at the provider{{if .ACR}} (<code>{{.ACR}}</code>){{end}}, within {{.MaxAge}} minutes, and approve the exact amount and payee.</p>
</section>
<section>
<h2>Recent transfers</h2>
{{if .History}}<table id="history">
{{range .History}}<tr><td>{{.At}}<br><span class="muted">from {{.From}}</span></td><td>{{.Payee}}{{if .Approved}} <span class="badge">approved</span>{{end}}</td><td class="num">NOK {{.Amount}}</td></tr>
{{end}}</table>{{else}}<p class="muted">No transfers yet.</p>{{end}}
</section>
{{with .Received}}
<section id="received">
<h2>What the bank received</h2>
<dl>
<dt>sub</dt><dd id="sub">{{.Subject}}</dd>
<dt>acr</dt><dd id="acr"><code>{{.ACR}}</code></dd>
<dt>amr</dt><dd id="amr"><code>{{.AMR}}</code></dd>
<dt>auth_time</dt><dd id="auth-time">{{.AuthTime}}{{if .AuthAge}} <span class="muted">({{.AuthAge}} ago)</span>{{end}}</dd>
{{if .Expiry}}<dt>token expires</dt><dd>{{.Expiry}}</dd>{{end}}
<dt>authorization_details</dt><dd>{{if .Details}}<pre id="details">{{.Details}}</pre>{{else}}<span class="muted" id="details">none approved</span>{{end}}</dd>
{{if .PermissionDigest}}<dt>permission_digest</dt><dd id="digest"><code>{{.PermissionDigest}}</code></dd>{{end}}
</dl>
</section>
{{end}}
{{end}}
</main>
</body>
</html>
`

// render writes the page with security headers. The CSP allows forms to
// post (and redirect) to the provider only.
func (b *Bank) render(w http.ResponseWriter, status int, data pageData) {
	var buf bytes.Buffer
	if err := b.tmpl.Execute(&buf, data); err != nil {
		b.log.Error("render", "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	if u, err := url.Parse(b.cfg.Issuer); err == nil && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (b *Bank) fail(w http.ResponseWriter, status int, msg string) {
	b.render(w, status, pageData{Error: msg})
}
