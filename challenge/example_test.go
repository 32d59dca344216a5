package challenge_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/stepup-oidc/stepup/challenge"
)

// A resource server asks for a stronger and more recent authentication.
func ExampleChallenge() {
	c := challenge.Challenge{
		Scheme:           "Bearer",
		Error:            challenge.ErrorInsufficientUserAuthentication,
		ErrorDescription: "A different authentication level is required",
		ACRValues:        []string{"phr", "phrh"},
		MaxAge:           new(300),
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("WWW-Authenticate", c.String())
	rec.WriteHeader(http.StatusUnauthorized)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="phr phrh", max_age="300"
}

// Values are quoted and escaped; line breaks cannot reach the header.
func ExampleChallenge_String() {
	c := challenge.Challenge{
		Realm:            `api "v2"`,
		Error:            challenge.ErrorInvalidToken,
		ErrorDescription: "expired\r\nSet-Cookie: x=1",
	}
	fmt.Println(c.String())
	// Output:
	// Bearer realm="api \"v2\"", error="invalid_token", error_description="expiredSet-Cookie: x=1"
}

// A client reads the step-up requirements from a 401 response.
func ExampleParse() {
	h := http.Header{}
	h.Add("WWW-Authenticate", `DPoP algs="ES256", Bearer error="insufficient_user_authentication",`+
		` error_description="More recent authentication is required", max_age="5"`)
	h.Add("WWW-Authenticate", `Basic realm="legacy"`)

	cs, err := challenge.Parse(h.Get("WWW-Authenticate") + ", " + h.Values("WWW-Authenticate")[1])
	if err != nil {
		panic(err)
	}
	for _, c := range cs {
		fmt.Printf("%s error=%q params=%v", c.Scheme, c.Error, c.Params)
		if c.MaxAge != nil {
			fmt.Printf(" max_age=%d", *c.MaxAge)
		}
		fmt.Println()
	}
	// Output:
	// DPoP error="" params=map[algs:ES256]
	// Bearer error="insufficient_user_authentication" params=map[] max_age=5
	// Basic error="" params=map[]
}

// Parse refuses what the grammar does not allow; ErrMalformed tells it apart.
func ExampleParse_malformed() {
	_, err := challenge.Parse(`Bearer error="invalid_token`)
	fmt.Println(errors.Is(err, challenge.ErrMalformed))
	fmt.Println(err)
	// Output:
	// true
	// challenge: malformed: at offset 27: unterminated quoted string
}
