package server

import (
	"net/http"

	"github.com/stepup-oidc/stepup/internal/oauth"
)

type detailView struct {
	Kind, Amount, Currency, Payee, Reference, Text string
}

// detailViews turns authorization details into what the pages show.
func detailViews(ds []oauth.Detail) []detailView {
	var views []detailView
	for _, d := range ds {
		switch d.Type() {
		case oauth.DetailPayment:
			amount, currency := d.Amount()
			views = append(views, detailView{Kind: "payment", Amount: amount, Currency: currency,
				Payee: d.Str("creditorName"), Reference: d.Str("remittanceInformation")})
		case oauth.DetailText:
			views = append(views, detailView{Kind: "text", Text: d.Str("text")})
		}
	}
	return views
}

// showApproval renders the authorization details for the user to approve:
// amount, currency and payee unmistakably, and the client's name.
func (s *Server) showApproval(w http.ResponseWriter, r *http.Request, status int, p page, msg string) {
	views := detailViews(p.approve.Details)
	client := p.tx.ClientName
	if client == "" {
		client = p.tx.ClientID
	}
	s.renderForm(w, r, status, "approve.html", map[string]any{"Title": "Approve what you see", "ClientName": client,
		"Details": views, "Digest": p.approve.Digest, "Passkey": p.approve.Passkey, "TX": p.sealed,
		"CSRF": s.cfg.Flow.CSRFToken(s.csrf(w, r)), "Error": msg, "UILocales": p.tx.UILocales})
}

// stepApprove handles approve and deny. With a passkey the approval is a
// WebAuthn assertion whose challenge commits to the statement's digest.
func (s *Server) stepApprove(w http.ResponseWriter, r *http.Request, p page) {
	f := r.PostForm
	if f.Get("decision") == "deny" {
		s.redirectError(w, r, p.to(), oauth.Err(oauth.AccessDenied, "the user denied the request"))
		return
	}
	if f.Get("decision") != "approve" && f.Get("method") != "approve" {
		s.showApproval(w, r, http.StatusBadRequest, p, "")
		return
	}
	if !p.approve.Passkey {
		s.cfg.Logger.InfoContext(r.Context(), "audit: authorization details approved", "user", p.approve.UserID,
			"client_id", p.tx.ClientID, "digest", p.approve.Digest, "method", "session")
		p.tx.Approved = true
		s.next(w, r, p)
		return
	}
	if resp := f.Get("response"); resp != "" {
		u, ev, err := s.cfg.Flow.FinishApproval(r.Context(), f.Get("state"), []byte(resp), p.approve.UserID, p.approve.Digest)
		if err != nil {
			s.cfg.Logger.InfoContext(r.Context(), "approval refused", "err", err)
			s.showApproval(w, r, http.StatusUnauthorized, p, "The approval could not be verified. Try again.")
			return
		}
		p.tx.Approved = true
		s.record(w, r, p, u, ev)
		return
	}
	opts, state, err := s.cfg.Flow.BeginApproval(r.Context(), *p.user, p.approve.Digest)
	if err != nil {
		s.redirectError(w, r, p.to(), err)
		return
	}
	s.renderForm(w, r, http.StatusOK, "webauthn.html", map[string]any{"Title": "Approve what you see",
		"Reason": p.reason(), "TX": p.sealed, "CSRF": s.cfg.Flow.CSRFToken(s.csrf(w, r)), "State": state,
		"Options": jsonValue(opts), "Method": "approve", "UILocales": p.tx.UILocales})
}
