package rp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/stepup-oidc/stepup/challenge"
)

// StepUp answers an RFC 9470 challenge from a resource server: it starts
// a new authorization request for the user of prev that carries the
// challenge's acr_values AND max_age (dropping max_age would let the
// provider answer from the old session, and the resource server would
// challenge again forever), with id_token_hint set to prev.IDToken. The
// State expects prev's subject back: Exchange fails with
// ErrSubjectChanged if anyone else completes the step-up.
//
// Options apply first; the challenge's acr_values and max_age and the
// id_token_hint are applied last, so an option cannot lose them. To
// require one of the acr values rather than ask for them, add
// ClaimsEssentialACR. ResumeWith records what to do once the user is back.
func (c *Client) StepUp(ctx context.Context, ch challenge.Challenge, prev *Tokens, opts ...AuthOption) (string, *State, error) {
	if ch.Error != "" && ch.Error != challenge.ErrorInsufficientUserAuthentication {
		return "", nil, fmt.Errorf("rp: StepUp: the challenge's error is %q, not %s", ch.Error, challenge.ErrorInsufficientUserAuthentication)
	}
	if len(ch.ACRValues) == 0 && ch.MaxAge == nil {
		return "", nil, errors.New("rp: StepUp: the challenge has neither acr_values nor max_age")
	}
	if prev == nil || prev.IDToken == "" || prev.Claims.Subject == "" {
		return "", nil, errors.New("rp: StepUp: no previous ID token to step up from")
	}
	all := append([]AuthOption(nil), opts...)
	if len(ch.ACRValues) > 0 {
		all = append(all, ACRValues(ch.ACRValues...))
	}
	if ch.MaxAge != nil {
		if *ch.MaxAge < 0 || int64(*ch.MaxAge) > math.MaxInt64/int64(time.Second) {
			return "", nil, fmt.Errorf("rp: StepUp: max_age %d out of range", *ch.MaxAge)
		}
		all = append(all, MaxAge(time.Duration(*ch.MaxAge)*time.Second))
	}
	all = append(all, IDTokenHint(prev.IDToken))
	u, st, err := c.AuthCodeURL(ctx, all...)
	if err != nil {
		return "", nil, err
	}
	st.ExpectSubject = prev.Claims.Subject
	return u, st, nil
}
