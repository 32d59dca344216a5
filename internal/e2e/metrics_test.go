package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func TestMetricsCountFlowsAndRequests(t *testing.T) {
	p := startSQLite(t)
	r := newRP(t, p, confidentialID, confidentialSecret)
	exchange(t, r, newBrowser(t))
	cb, _ := r.authorize(t, newBrowser(t), "alice", oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"values":["phrh"]}}}`))
	if cb.Get("error") != "unmet_authentication_requirements" {
		t.Fatalf("unmet request: %v", cb)
	}
	res, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	body := string(b)
	for _, want := range []string{
		`stepup_authorizations_total{acr="urn:okta:loa:1fa:pwd",client_id="bank"} 1`,
		`stepup_unmet_authentication_requirements_total{client_id="bank"} 1`,
		`stepup_http_requests_total{code="200",method="POST",route="POST /token"} 1`,
		`stepup_http_request_duration_seconds_bucket{route="GET /authorize"`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if res.StatusCode != 200 || strings.Contains(body, "alice") {
		t.Errorf("status %d; metrics must not name users", res.StatusCode)
	}
}
