package passkey

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stepup-oidc/stepup/internal/authn/passkey/softauthn"
)

// FuzzFinishLogin feeds arbitrary response bytes to FinishLogin, for a known
// user and username-less, against a registered passkey whose stored counter
// is ahead of the authenticator. No input may panic or succeed: the fuzzer
// cannot sign the state's challenge, and the seeds that are genuine
// assertions are each refused for one reason (another challenge, no UV, a
// regressed counter, a wrong origin).
func FuzzFinishLogin(f *testing.F) {
	ctx := context.Background()
	mem := newMemStore()
	e := newEnv(f, envOptions{store: mem})
	alice := e.user("u-alice")
	a := softauthn.New(testRPID, testOrigin, securityKey)
	c := e.register(alice, a)

	// Seeds: genuine responses, each refused.
	_, state, err := e.m.BeginLogin(ctx, &alice, e.creds(alice), nil)
	if err != nil {
		f.Fatal(err)
	}
	_, discState, err := e.m.BeginLogin(ctx, nil, nil, []byte("digest"))
	if err != nil {
		f.Fatal(err)
	}
	otherOpts, _, err := e.m.BeginLogin(ctx, &alice, e.creds(alice), nil)
	if err != nil {
		f.Fatal(err)
	}
	seed := func(resp []byte, err error) {
		if err != nil {
			f.Fatal(err)
		}
		f.Add(resp)
	}
	seed(a.Get(otherOpts)) // another challenge
	stateOpts := optionsFor(f, e, state)
	a.SetOptions(softauthn.Options{AAGUID: securityKey.AAGUID})
	seed(a.Get(stateOpts)) // no user verification
	a.SetOptions(securityKey)
	a.SetOrigin("http://evil.example")
	seed(a.Get(stateOpts)) // wrong origin
	a.SetOrigin(testOrigin)
	seed(a.Get(stateOpts)) // counter 4 ≤ stored counter, set below
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":"","userHandle":"dS1hbGljZQ"}}`))

	// Every genuine assertion the fuzzer might rebuild is behind the
	// stored counter.
	if err := mem.UseCredential(ctx, c.ID, 1<<31, e.m.now()); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, resp []byte) {
		for _, st := range []string{state, discState} {
			id, ev, err := e.m.FinishLogin(ctx, st, resp, e.lookup)
			if err == nil {
				t.Fatalf("FinishLogin accepted %q: user %q, event %+v", resp, id, ev)
			}
		}
	})
}

// optionsFor rebuilds request options answering the challenge of state (the
// test sealer is readable), as the page would have shown them.
func optionsFor(f *testing.F, e *env, state string) []byte {
	var st loginState
	if err := testUnseal(purposeLogin, state, &st); err != nil {
		f.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"publicKey": map[string]any{
		"challenge": st.Session.Challenge,
		"rpId":      testRPID,
	}})
	if err != nil {
		f.Fatal(err)
	}
	return b
}
