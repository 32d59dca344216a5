package server

import (
	"io/fs"
	"net/http"
)

// routes is the site map.
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /.well-known/openid-configuration", s.discovery)
	m.HandleFunc("GET /.well-known/oauth-authorization-server", s.discovery)
	m.HandleFunc("GET /jwks", s.jwks)

	m.HandleFunc("GET /authorize", s.authorize)
	m.HandleFunc("POST /authorize", s.authorize)
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("GET /upstream/callback", s.upstreamCallback)

	m.HandleFunc("POST /par", s.par)
	m.HandleFunc("POST /bc-authorize", s.backchannel)
	m.HandleFunc("POST /permissions/user-exists", s.userExists)
	m.HandleFunc("GET /app", s.app)
	m.HandleFunc("GET /app/login", s.appLogin)
	m.HandleFunc("POST /app/decide", s.appDecide)
	m.HandleFunc("GET /app/events", s.appEvents)
	m.HandleFunc("GET /app/manifest.webmanifest", s.manifest)
	m.HandleFunc("POST /token", s.token)
	m.HandleFunc("GET /userinfo", s.userinfo)
	m.HandleFunc("POST /userinfo", s.userinfo)
	m.HandleFunc("POST /introspect", s.introspect)
	m.HandleFunc("POST /revoke", s.revoke)
	m.HandleFunc("GET /sessions", s.sessions)
	m.HandleFunc("POST /sessions", s.sessions)
	m.HandleFunc("GET /logout", s.logout)
	m.HandleFunc("POST /logout", s.logout)

	if s.cfg.Metrics != nil {
		m.Handle("GET /metrics", s.cfg.Metrics.Handler())
	}
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("/", s.notFound)
}

// Endpoint paths, relative to the issuer.
const (
	pathAuthorize   = "/authorize"
	pathToken       = "/token"
	pathUserinfo    = "/userinfo"
	pathJWKS        = "/jwks"
	pathIntrospect  = "/introspect"
	pathRevoke      = "/revoke"
	pathLogout      = "/logout"
	pathPAR         = "/par"
	pathBackchannel = "/bc-authorize"
)
