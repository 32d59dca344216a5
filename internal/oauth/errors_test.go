package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// allCodes lists every Code constant explicitly, so that adding a code
// without adding it here (and to the golden file) is noticed in review.
func allCodes() []Code {
	return []Code{
		InvalidRequest,
		InvalidAuthorizationDetails,
		AuthorizationPending,
		ExpiredToken,
		UnknownUserID,
		ExpiredLoginHintToken,
		InvalidBindingMessage,
		MissingUserCode,
		InvalidUserCode,
		TransactionFailed,
		InvalidClient,
		InvalidGrant,
		UnauthorizedClient,
		UnsupportedGrantType,
		UnsupportedResponseType,
		UnsupportedTokenType,
		InvalidScope,
		AccessDenied,
		ServerError,
		TemporarilyUnavailable,
		InteractionRequired,
		LoginRequired,
		AccountSelectionRequired,
		ConsentRequired,
		InvalidRequestURI,
		InvalidRequestObject,
		RequestNotSupported,
		RequestURINotSupported,
		UnmetAuthenticationRequirements,
		InvalidToken,
		InsufficientScope,
		SlowDown,
	}
}

// wireError is the RFC 6749 §5.2 JSON error body.
type wireError struct {
	Error       Code   `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// renderErrors renders one line per code: the HTTP status and the JSON body.
func renderErrors(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, c := range allCodes() {
		e := Err(c, "the %s example", strings.ReplaceAll(string(c), "_", " "))
		body, err := json.Marshal(wireError{Error: e.Code, Description: e.Description})
		if err != nil {
			t.Fatalf("marshal %s: %v", c, err)
		}
		fmt.Fprintf(&buf, "%d %s\n", e.Code.Status(), body)
	}
	return buf.Bytes()
}

func TestErrorsGolden(t *testing.T) {
	got := renderErrors(t)
	golden := filepath.Join("testdata", "errors.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("error bodies differ from %s (-want +got):\n%s", golden, diff)
	}
}

func TestEveryCodeHasAnExplicitStatus(t *testing.T) {
	seen := map[Code]bool{}
	for _, c := range allCodes() {
		if seen[c] {
			t.Errorf("code %q listed twice", c)
		}
		seen[c] = true
		if _, ok := statusOf[c]; !ok {
			t.Errorf("code %q has no entry in the status table", c)
		}
	}
	for c := range statusOf {
		if !seen[c] {
			t.Errorf("status table has %q, which allCodes does not list", c)
		}
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name string
		code Code
		want int
	}{
		{"invalid_client is 401 so clients retry with credentials", InvalidClient, http.StatusUnauthorized},
		{"invalid_token is 401 for bearer challenges", InvalidToken, http.StatusUnauthorized},
		{"insufficient_scope is 403", InsufficientScope, http.StatusForbidden},
		{"server_error is 500", ServerError, http.StatusInternalServerError},
		{"temporarily_unavailable is 503", TemporarilyUnavailable, http.StatusServiceUnavailable},
		{"an unknown code falls back to 400", Code("no_such_code"), http.StatusBadRequest},
		{"the empty code falls back to 400", Code(""), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.code.Status(); got != tt.want {
				t.Errorf("Code(%q).Status() = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

func TestErrorIsMatchesByCode(t *testing.T) {
	cause := errors.New("db down")
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"same code, different descriptions", Err(InvalidGrant, "code expired"), Err(InvalidGrant, ""), true},
		{"different codes", Err(InvalidGrant, "x"), Err(InvalidRequest, "x"), false},
		{"wrapped by fmt.Errorf", fmt.Errorf("token: %w", Err(InvalidGrant, "used")), Err(InvalidGrant, ""), true},
		{"wrapped cause does not change the code", Wrap(ServerError, cause, "boom"), Err(ServerError, ""), true},
		{"the cause is reachable through Unwrap", Wrap(ServerError, cause, "boom"), cause, true},
		{"a plain error is not an OAuth error", cause, Err(ServerError, ""), false},
		{"a non-OAuth target never matches", Err(InvalidGrant, "x"), errors.New("invalid_grant"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
}

func TestErrorUnwrap(t *testing.T) {
	cause := errors.New("db down")
	if got := Wrap(ServerError, cause, "x").Unwrap(); got != cause {
		t.Errorf("Wrap(...).Unwrap() = %v, want the cause", got)
	}
	if got := Err(InvalidRequest, "x").Unwrap(); got != nil {
		t.Errorf("Err(...).Unwrap() = %v, want nil", got)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"code and formatted description", Err(InvalidRequest, "missing %s parameter", "nonce"), "invalid_request: missing nonce parameter"},
		{"the cause is appended", Wrap(ServerError, errors.New("db down"), "internal error"), "server_error: internal error: db down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorLogValue(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want []string
	}{
		{"code and description", Err(InvalidGrant, "code expired"), []string{"err.code=invalid_grant", `err.description="code expired"`}},
		{"the cause is logged", Wrap(ServerError, errors.New("db down"), "internal error"), []string{"err.code=server_error", `err.cause="db down"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("failed", "err", tt.err)
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("log line %q does not contain %q", buf.String(), w)
				}
			}
		})
	}
	t.Run("a plain error has no cause attribute", func(t *testing.T) {
		v := Err(InvalidGrant, "x").LogValue()
		if v.Kind() != slog.KindGroup {
			t.Fatalf("LogValue kind = %v, want group", v.Kind())
		}
		var keys []string
		for _, a := range v.Group() {
			keys = append(keys, a.Key)
		}
		if diff := cmp.Diff([]string{"code", "description"}, keys); diff != "" {
			t.Errorf("LogValue keys (-want +got):\n%s", diff)
		}
	})
}

func TestAsOAuth(t *testing.T) {
	oe := Err(AccessDenied, "denied")
	tests := []struct {
		name     string
		err      error
		wantCode Code
		wantDesc string
	}{
		{"an OAuth error passes through", oe, AccessDenied, "denied"},
		{"a wrapped OAuth error is found", fmt.Errorf("flow: %w", oe), AccessDenied, "denied"},
		{"anything else is a generic server_error", io.ErrUnexpectedEOF, ServerError, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := asOAuth(tt.err)
			if got.Code != tt.wantCode || got.Description != tt.wantDesc {
				t.Errorf("asOAuth(%v) = %s / %q, want %s / %q", tt.err, got.Code, got.Description, tt.wantCode, tt.wantDesc)
			}
			if tt.wantCode == ServerError && !errors.Is(got, tt.err) {
				t.Errorf("asOAuth(%v) lost the cause", tt.err)
			}
		})
	}
}
