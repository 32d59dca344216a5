// Package e2e holds Stepup's end-to-end tests: a real provider on a
// loopback port, driven by real client libraries (golang.org/x/oauth2,
// github.com/coreos/go-oidc) and by Chromium. The harness is in
// harness_test.go.
package e2e
