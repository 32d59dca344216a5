package rp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/stepup-oidc/stepup/rp"
)

// A device without a browser (a smart TV) signs alice in with CIBA: it
// shows the binding message, and Poll returns once she approves in her
// authenticator app.
func ExampleClient_Backchannel() {
	op := newFakeOP()
	defer op.Close()

	ctx := context.Background()
	c, err := rp.New(ctx, rp.Config{
		Issuer:       op.URL,
		ClientID:     "bank",
		ClientSecret: "bank-secret",
		RedirectURL:  "https://bank.example/callback",
		// Only so that the example does not wait the provider's 5-second
		// interval: leave Sleep nil in production.
		Sleep: func(context.Context, time.Duration) error { return nil },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if !c.SupportsBackchannel() {
		fmt.Println("the provider does not offer CIBA")
		return
	}
	req, err := c.Backchannel(ctx, rp.LoginHint("alice"), rp.BindingMessage("TV-4711"),
		rp.RequestedExpiry(2*time.Minute))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("Approve %s in your Stepup app (poll every %v)\n", req.BindingMessage, req.Interval)

	tok, err := c.Poll(ctx, req)
	switch {
	case errors.Is(err, rp.ErrAccessDenied):
		fmt.Println("denied")
	case errors.Is(err, rp.ErrExpiredToken):
		fmt.Println("expired: start again")
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println("signed in as", tok.Claims.Subject, "with", tok.Claims.ACR, tok.Claims.AMR)
	}
	// Output:
	// Approve TV-4711 in your Stepup app (poll every 5s)
	// signed in as alice with urn:okta:loa:1fa:pwd [pwd]
}

// cibaClient is exampleClient whose polls do not wait.
func cibaClient() (*rp.Client, *fakeOP) {
	op := newFakeOP()
	c, err := rp.New(context.Background(), rp.Config{Issuer: op.URL, ClientID: "bank", ClientSecret: "bank-secret",
		RedirectURL: "https://bank.example/callback", Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		panic(err)
	}
	return c, op
}

// The binding message ties the device's screen to the approval on the
// user's phone.
func ExampleBindingMessage() {
	c, op := cibaClient()
	defer op.Close()
	req, err := c.Backchannel(context.Background(), rp.LoginHint("alice"), rp.BindingMessage("TV-4711"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.BindingMessage)
	// Output: TV-4711
}

// Without a binding message the provider generates one for the device to
// show.
func ExampleBackchannelRequest() {
	c, op := cibaClient()
	defer op.Close()
	req, err := c.Backchannel(context.Background(), rp.LoginHint("alice"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.BindingMessage, req.ExpiresIn, req.Interval)
	// Output: KX7-42Q 2m0s 5s
}

func ExampleRequestedExpiry() {
	c, op := cibaClient()
	defer op.Close()
	_, err := c.Backchannel(context.Background(), rp.LoginHint("alice"), rp.RequestedExpiry(2*time.Minute))
	fmt.Println(err)
	_, err = c.Backchannel(context.Background(), rp.LoginHint("alice"), rp.RequestedExpiry(0))
	fmt.Println(err)
	// Output:
	// <nil>
	// rp: Backchannel: rp: RequestedExpiry: 0s is less than a second
}

// Backchannel takes the AuthOptions that make sense for CIBA and refuses
// the others.
func ExampleCIBAOption() {
	c, op := cibaClient()
	defer op.Close()
	opts := []rp.CIBAOption{rp.LoginHint("alice"), rp.ACRValues("urn:okta:loa:1fa:pwd"),
		rp.AuthorizationDetails([]byte(`[{"type":"payment.v1","amount":"1500.00","currency":"NOK"}]`))}
	_, err := c.Backchannel(context.Background(), opts...)
	fmt.Println(err)
	_, err = c.Backchannel(context.Background(), rp.LoginHint("alice"), rp.MaxAge(time.Minute))
	fmt.Println(err)
	_, err = c.Backchannel(context.Background(), rp.BindingMessage("TV-4711"))
	fmt.Println(err)
	// Output:
	// <nil>
	// rp: Backchannel: max_age does not apply to a backchannel request
	// rp: Backchannel: exactly one of LoginHint and IDTokenHint is required
}

// A provider in ping mode notifies the client with this token.
func ExampleClientNotificationToken() {
	c, op := cibaClient()
	defer op.Close()
	_, err := c.Backchannel(context.Background(), rp.LoginHint("alice"), rp.ClientNotificationToken("the-client-notification-token"))
	fmt.Println(err)
	// Output: <nil>
}

func ExampleClient_SupportsBackchannel() {
	c, op := cibaClient()
	defer op.Close()
	fmt.Println(c.SupportsBackchannel())
	// Output: true
}

func ExampleClient_Poll() {
	c, op := cibaClient()
	defer op.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := c.Backchannel(ctx, rp.LoginHint("alice"), rp.BindingMessage("TV-4711"))
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := c.Poll(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Claims.Subject, tok.Claims.ACR, !tok.Claims.AuthTime.IsZero())
	// Output: alice urn:okta:loa:1fa:pwd true
}

// PollOnce asks once: for callers that schedule polls themselves or were
// pinged.
func ExampleClient_PollOnce() {
	c, op := cibaClient()
	defer op.Close()
	ctx := context.Background()
	req, err := c.Backchannel(ctx, rp.LoginHint("alice"))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.PollOnce(ctx, req)
	fmt.Println(errors.Is(err, rp.ErrAuthorizationPending))
	// … wait req.Interval …
	tok, err := c.PollOnce(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Claims.Subject)
	// Output:
	// true
	// alice
}

// The client's registration must include the CIBA grant type.
func ExampleGrantTypeCIBA() {
	fmt.Println("grant_types: [" + rp.GrantTypeCIBA + ", refresh_token]")
	// Output: grant_types: [urn:openid:params:grant-type:ciba, refresh_token]
}

// PingHandler receives ping notifications from providers that send them
// (Stepup polls only): wake the code waiting for the request, which then
// calls PollOnce.
func ExamplePingHandler() {
	ready := make(chan string, 1)
	mux := http.NewServeMux()
	mux.Handle("POST /ciba/notify", rp.PingHandler("the-client-notification-token",
		func(_ context.Context, authReqID string) {
			select {
			case ready <- authReqID:
			default:
			}
		}))
	fmt.Println(mux != nil)
	// Output: true
}
