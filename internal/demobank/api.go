package demobank

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/rs"
)

// paymentDetails is the payment.v1 authorization detail of the provider
// (docs/endpoints.md), with the account paid from as debtorAccount (an
// extra member the provider keeps), so that an approval for one account
// cannot pay from another.
type paymentDetails struct {
	Type             string `json:"type"`
	InstructedAmount struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	} `json:"instructedAmount"`
	CreditorName  string `json:"creditorName"`
	DebtorAccount struct {
		Name string `json:"name"`
	} `json:"debtorAccount"`
}

// details is the authorization_details array that approves exactly t.
func (t transfer) details() json.RawMessage {
	var d paymentDetails
	d.Type = "payment.v1"
	d.InstructedAmount.Amount = decimal(t.Amount)
	d.InstructedAmount.Currency = currency
	d.CreditorName = t.Payee
	d.DebtorAccount.Name = accountName(t.From)
	b, _ := json.Marshal([]paymentDetails{d})
	return b
}

// detailsMatch reports whether granted (a token's authorization_details)
// approves exactly t: one payment.v1 with the same amount, currency,
// payee and debtor account, and nothing else. Members are compared as JSON values, so key
// order and whitespace do not matter but every member does.
func detailsMatch(granted json.RawMessage, t transfer) bool {
	if len(granted) == 0 {
		return false
	}
	var got, want any
	if json.Unmarshal(granted, &got) != nil || json.Unmarshal(t.details(), &want) != nil {
		return false
	}
	return reflect.DeepEqual(got, want)
}

// apiRequest is the body of POST /api/transfers.
type apiRequest struct {
	From             string `json:"from"`
	InstructedAmount struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	} `json:"instructedAmount"`
	CreditorName string `json:"creditorName"`
}

func apiBody(t transfer) []byte {
	var a apiRequest
	a.From = t.From
	a.InstructedAmount.Amount = decimal(t.Amount)
	a.InstructedAmount.Currency = currency
	a.CreditorName = t.Payee
	b, _ := json.Marshal(a)
	return b
}

// Error codes of the API besides the RFC 6750 and RFC 9470 ones.
const (
	// errDetails: the token's approved authorization_details do not
	// describe this transfer, or that approval was already spent (403).
	errDetails       = "insufficient_authorization_details"
	errInvalidReq    = "invalid_request"
	errInsufficient  = "insufficient_funds"
	errUnknownAcount = "unknown_account"
)

// api serves POST /api/transfers. Every call needs a valid access token.
// A transfer above NOK 1 000 also needs the large-transfer acr within 5
// minutes (else 401 insufficient_user_authentication with acr_values and
// max_age, RFC 9470) and an approved payment.v1 that equals the transfer
// (else 403 insufficient_authorization_details); each approval pays once.
func (b *Bank) api(w http.ResponseWriter, r *http.Request) {
	d, err := b.provider(r.Context())
	if err != nil {
		b.log.Warn("provider unavailable", "err", err)
		apiError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The bank cannot reach its identity provider")
		return
	}
	d.verifier.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rs.ClaimsFrom(r.Context())
		b.apiTransfer(w, r, d, claims)
	})).ServeHTTP(w, r)
}

func (b *Bank) apiTransfer(w http.ResponseWriter, r *http.Request, d *deps, claims *rs.Claims) {
	var req apiRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, errInvalidReq, "The body is not a transfer")
		return
	}
	amount, err := parseDecimal(req.InstructedAmount.Amount)
	payee := strings.TrimSpace(req.CreditorName)
	switch {
	case err != nil:
		apiError(w, http.StatusBadRequest, errInvalidReq, "instructedAmount.amount: "+err.Error())
		return
	case req.InstructedAmount.Currency != currency:
		apiError(w, http.StatusBadRequest, errInvalidReq, "Only NOK transfers are supported")
		return
	case payee == "" || payee != req.CreditorName || len(payee) > 70:
		apiError(w, http.StatusBadRequest, errInvalidReq, "creditorName must be 1-70 characters without surrounding spaces")
		return
	}
	t := transfer{From: req.From, Amount: amount, Payee: payee}
	large := amount > threshold
	if large {
		if ce := d.verifier.Check(claims, rs.ACR(d.acr), rs.MaxAge(stepUpMaxAge)); ce != nil {
			ce.ServeHTTP(w, r)
			return
		}
		if !detailsMatch(claims.AuthorizationDetails, t) {
			b.log.Info("transfer refused: approval does not match", "sub", claims.Subject, "amount", decimal(amount))
			apiError(w, http.StatusForbidden, errDetails, "The approved authorization_details do not match this transfer")
			return
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	for jti, exp := range b.used {
		if now.After(exp) {
			delete(b.used, jti)
		}
	}
	if large {
		if _, spent := b.used[claims.JTI]; spent || claims.JTI == "" {
			apiError(w, http.StatusForbidden, errDetails, "This approval was already used")
			return
		}
	}
	c := b.customer(claims.Subject, "")
	from := c.account(t.From)
	switch {
	case from == nil:
		apiError(w, http.StatusBadRequest, errUnknownAcount, "No such account")
		return
	case from.Balance < amount:
		apiError(w, http.StatusUnprocessableEntity, errInsufficient, "The balance is too low")
		return
	}
	if large {
		exp := claims.Expiry
		if exp.IsZero() {
			exp = now.Add(time.Hour)
		}
		b.used[claims.JTI] = exp.Add(time.Minute)
	}
	from.Balance -= amount
	t.ID, t.At = newID(), now
	c.History = append(c.History, t)
	b.log.Info("transfer executed", "sub", claims.Subject, "amount", decimal(amount), "payee", payee, "acr", claims.ACR)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]string{"id": t.ID, "status": "executed", "balance": decimal(from.Balance)})
}

func apiError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// apiAnswer is what the front learned from the API.
type apiAnswer struct {
	Status          int
	WWWAuthenticate string
	Error           string
	Description     string
}
