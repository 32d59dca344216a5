// Package metrics is Stepup's Prometheus instrumentation: HTTP latency per
// endpoint, and the outcomes of the flows (acr reached per client, step-ups
// unmet, CIBA decisions). Each Metrics has its own registry; nothing is
// registered globally.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors.
type Metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	authorizations *prometheus.CounterVec
	unmet          *prometheus.CounterVec
	ciba           *prometheus.CounterVec
}

// New returns Metrics with Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stepup_http_requests_total",
			Help: "HTTP requests by route, method and status code."}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "stepup_http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}},
			[]string{"route"}),
		authorizations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stepup_authorizations_total",
			Help: "Completed authorizations by client and acr reached."}, []string{"client_id", "acr"}),
		unmet: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stepup_unmet_authentication_requirements_total",
			Help: "Authorizations ended because the requested acr could not be met, by client."}, []string{"client_id"}),
		ciba: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stepup_ciba_decisions_total",
			Help: "CIBA requests decided in the authenticator app, by status."}, []string{"status"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.authorizations, m.unmet, m.ciba,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveHTTP records one request. route is the mux pattern ("" for none).
func (m *Metrics) ObserveHTTP(route, method string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// Authorized records a completed authorization.
func (m *Metrics) Authorized(clientID, acr string) {
	m.authorizations.WithLabelValues(clientID, acr).Inc()
}

// Unmet records an authorization that could not meet the requested acr.
func (m *Metrics) Unmet(clientID string) { m.unmet.WithLabelValues(clientID).Inc() }

// CIBADecided records a decision in the authenticator app.
func (m *Metrics) CIBADecided(status string) { m.ciba.WithLabelValues(status).Inc() }
