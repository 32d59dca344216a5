// Package server is Stepup's HTTP edge: the OAuth/OIDC endpoints and the
// server-rendered pages. Handlers parse (package oauth), call one method of
// the protocol core (package flow), and write the result through the
// writers in respond.go. No business rule lives here.
package server

import (
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stepup-oidc/stepup/internal/flow"
	"github.com/stepup-oidc/stepup/internal/keys"
	"github.com/stepup-oidc/stepup/internal/metrics"
	"github.com/stepup-oidc/stepup/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures a Server.
type Config struct {
	Issuer string
	Flow   *flow.Service
	Keys   *keys.Manager
	Store  store.Store
	Logger *slog.Logger
	// SessionCookie is the name of the session cookie (default stepup_session).
	SessionCookie string
	// Metrics, when set, records every request and serves /metrics.
	Metrics *metrics.Metrics
}

// Server serves every endpoint.
type Server struct {
	cfg    Config
	tmpl   *template.Template
	secure bool // cookies get Secure: the issuer is https
	mux    *http.ServeMux
	nb     map[string]string // the Norwegian catalogue

	closing   chan struct{}
	closeOnce sync.Once
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Flow == nil || cfg.Keys == nil || cfg.Store == nil || cfg.Issuer == "" {
		return nil, errors.New("server: issuer, flow, keys and store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionCookie == "" {
		cfg.SessionCookie = "stepup_session"
	}
	t, err := template.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, tmpl: t, secure: strings.HasPrefix(cfg.Issuer, "https://"), mux: http.NewServeMux(), nb: norwegian(), closing: make(chan struct{})}
	s.routes()
	return s, nil
}

// ServeHTTP logs each request (method, path, status, duration; never the
// query, which may hold codes and hints) and serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if v := recover(); v != nil {
			s.cfg.Logger.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", v)
			if !rw.wrote {
				writeJSONError(rw, r, s.cfg.Logger, nil)
			}
		}
		if s.cfg.Metrics != nil {
			s.cfg.Metrics.ObserveHTTP(r.Pattern, r.Method, rw.status, time.Since(start))
		}
		s.cfg.Logger.DebugContext(r.Context(), "http", "method", r.Method, "path", r.URL.Path,
			"status", rw.status, "duration", time.Since(start))
	}()
	s.mux.ServeHTTP(rw, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends buffered data (server-sent events).
func (w *statusWriter) Flush() {
	w.wrote = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Close ends the long-lived streams (the app's events) so that a graceful
// shutdown does not wait for browsers to hang up.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closing) }) }
