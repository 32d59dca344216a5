package rp

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// IDClaims are the verified claims of an ID token that step-up cares
// about. Raw holds the whole payload for anything else.
type IDClaims struct {
	Subject  string    // sub
	ACR      string    // acr: the authentication context class actually met
	AMR      []string  // amr: the methods used, e.g. ["pwd", "otp"]
	AuthTime time.Time // auth_time: the last active authentication; zero if absent
	SID      string    // sid: the provider's session
	Nonce    string    // nonce
	// PermissionDigest is Stepup's permission_digest: base64url(SHA-256)
	// of the approved authorization_details (RFC 9396).
	PermissionDigest string
	Email            string // email (scope email)
	Name             string // name (scope profile)
	// Raw is the ID token's JSON payload; unmarshal it for other claims.
	Raw json.RawMessage
}

// idPayload is the wire form of the claims the client checks or returns.
type idPayload struct {
	Issuer           string       `json:"iss"`
	Subject          string       `json:"sub"`
	Audience         audience     `json:"aud"`
	AZP              string       `json:"azp"`
	Expiry           *numericDate `json:"exp"`
	IssuedAt         *numericDate `json:"iat"`
	AuthTime         *numericDate `json:"auth_time"`
	Nonce            string       `json:"nonce"`
	ACR              string       `json:"acr"`
	AMR              []string     `json:"amr"`
	SID              string       `json:"sid"`
	PermissionDigest string       `json:"permission_digest"`
	Email            string       `json:"email"`
	Name             string       `json:"name"`
}

// audience is the aud claim: one string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = ss
	return nil
}

// numericDate is a JWT NumericDate: seconds since the epoch, possibly
// fractional.
type numericDate struct{ time.Time }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(b)), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return fmt.Errorf("invalid NumericDate %s", b)
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

// verifyIDToken checks the signature and the standard claims of an ID
// token issued to this client. A non-empty nonce must match.
func (c *Client) verifyIDToken(ctx context.Context, raw, nonce string) (*IDClaims, error) {
	bad := func(format string, a ...any) (*IDClaims, error) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidIDToken, fmt.Sprintf(format, a...))
	}
	payload, err := c.keys.verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidIDToken, err)
	}
	var p idPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return bad("claims: %v", err)
	}
	now := c.cfg.Now()
	switch {
	case p.Issuer != c.cfg.Issuer:
		return bad("iss %q, want %q", p.Issuer, c.cfg.Issuer)
	case !slices.Contains(p.Audience, c.cfg.ClientID):
		return bad("aud %q does not include %q", []string(p.Audience), c.cfg.ClientID)
	case len(p.Audience) > 1 && p.AZP == "":
		return bad("several audiences and no azp")
	case p.AZP != "" && p.AZP != c.cfg.ClientID:
		return bad("azp %q, want %q", p.AZP, c.cfg.ClientID)
	case p.Subject == "":
		return bad("no sub")
	case p.Expiry == nil:
		return bad("no exp")
	case now.After(p.Expiry.Add(clockSkew)):
		return bad("expired at %v", p.Expiry.Time)
	case p.IssuedAt == nil:
		return bad("no iat")
	case p.IssuedAt.After(now.Add(clockSkew)):
		return bad("issued in the future (%v)", p.IssuedAt.Time)
	case nonce != "" && subtle.ConstantTimeCompare([]byte(p.Nonce), []byte(nonce)) != 1:
		return bad("nonce mismatch")
	}
	cl := &IDClaims{Subject: p.Subject, ACR: p.ACR, AMR: p.AMR, SID: p.SID, Nonce: p.Nonce,
		PermissionDigest: p.PermissionDigest, Email: p.Email, Name: p.Name, Raw: json.RawMessage(payload)}
	if p.AuthTime != nil {
		cl.AuthTime = p.AuthTime.Time
	}
	return cl, nil
}

// checkState applies what the State asked for to verified claims.
func (c *Client) checkState(st *State, cl *IDClaims) error {
	if st.ExpectSubject != "" && cl.Subject != st.ExpectSubject {
		return fmt.Errorf("%w: got %q, want %q", ErrSubjectChanged, cl.Subject, st.ExpectSubject)
	}
	if st.MaxAge != nil {
		if cl.AuthTime.IsZero() {
			return fmt.Errorf("%w: no auth_time", ErrMaxAgeExceeded)
		}
		// auth_time must fall within max_age of the request: counting from
		// the callback instead would fail a user who read an approval page
		// slowly.
		earliest := st.Created.Add(-time.Duration(*st.MaxAge)*time.Second - clockSkew)
		if st.Created.IsZero() || cl.AuthTime.Before(earliest) {
			return fmt.Errorf("%w: auth_time %v is more than %ds before the request (%v)",
				ErrMaxAgeExceeded, cl.AuthTime, *st.MaxAge, st.Created)
		}
	}
	if len(st.EssentialACR) > 0 && !slices.Contains(st.EssentialACR, cl.ACR) {
		return fmt.Errorf("%w: acr %q, want one of %q", ErrACRNotMet, cl.ACR, st.EssentialACR)
	}
	return nil
}
