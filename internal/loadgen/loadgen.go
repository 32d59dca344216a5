// Package loadgen is a load generator for OpenID providers: it discovers an
// issuer's endpoints and drives protocol scenarios (discovery, token
// requests, authorization code flows with password or passkey logins,
// step-up, refresh, introspection, CIBA) from concurrent workers for a
// bounded time or number of iterations, verifying every ID token it
// receives, and reports throughput and latency per scenario.
//
// Scenarios that need Stepup's login pages are skipped against other
// providers. All traffic goes to the issuer's origin only: redirects
// elsewhere (to the client's redirect URI) are never followed.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario names.
const (
	Discovery         = "discovery"
	JWKS              = "jwks"
	ClientCredentials = "client_credentials"
	CodeFlowSSO       = "code_flow_sso"
	CodeFlowPassword  = "code_flow_password"
	CodeFlowPasskey   = "code_flow_passkey"
	StepUp            = "step_up"
	Refresh           = "refresh"
	Introspection     = "introspection"
	CIBA              = "ciba"
)

// Scenarios lists every scenario in the order they run.
func Scenarios() []string {
	return []string{Discovery, JWKS, ClientCredentials, Introspection, CodeFlowSSO, CodeFlowPassword,
		Refresh, CodeFlowPasskey, StepUp, CIBA}
}

// Config is what to load and how hard.
type Config struct {
	// Issuer is the provider's issuer URL (required).
	Issuer string
	// ClientID and ClientSecret are a confidential client
	// (client_secret_basic) used by every scenario but discovery and jwks.
	ClientID, ClientSecret string
	// RedirectURI is one of the client's registered redirect URIs; the
	// generator stops at it and never connects to it.
	RedirectURI string
	// User and Password sign in on the provider's login pages.
	User, Password string
	// Scenarios to run; empty means all that the provider supports.
	Scenarios []string
	// Concurrency is the number of workers per scenario (default 4).
	Concurrency int
	// Duration bounds each scenario's run (default 10s unless Count is set).
	Duration time.Duration
	// Count, when positive, is the number of iterations per scenario.
	Count int
	// Progress, when set, receives a progress line once a second.
	Progress io.Writer
	// Timeout bounds each HTTP request (default 30s).
	Timeout time.Duration
}

// Result is one scenario's figures. Count is the iterations that succeeded;
// Throughput, P50 and P99 describe them.
type Result struct {
	Scenario   string
	Count      int
	Errors     int
	Elapsed    time.Duration
	Throughput float64 // successful iterations per second
	P50, P99   time.Duration
	// FirstErrors holds up to three error messages.
	FirstErrors []string
}

// MarshalJSON writes durations in milliseconds.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Scenario    string   `json:"scenario"`
		Count       int      `json:"count"`
		Errors      int      `json:"errors"`
		ElapsedMS   float64  `json:"elapsed_ms"`
		Throughput  float64  `json:"throughput_per_s"`
		P50MS       float64  `json:"p50_ms"`
		P99MS       float64  `json:"p99_ms"`
		FirstErrors []string `json:"first_errors,omitempty"`
	}{r.Scenario, r.Count, r.Errors, ms(r.Elapsed), round(r.Throughput), ms(r.P50), ms(r.P99), r.FirstErrors})
}

func ms(d time.Duration) float64 { return round(float64(d) / float64(time.Millisecond)) }
func round(f float64) float64    { return math.Round(f*1000) / 1000 }

// Skip is a scenario that did not run, and why.
type Skip struct {
	Scenario string `json:"scenario"`
	Reason   string `json:"reason"`
}

// Report is the outcome of a run.
type Report struct {
	Issuer      string   `json:"issuer"`
	Concurrency int      `json:"concurrency"`
	Results     []Result `json:"results"`
	Skipped     []Skip   `json:"skipped,omitempty"`
}

// Errors is the total number of failed iterations.
func (r Report) Errors() int {
	n := 0
	for _, s := range r.Results {
		n += s.Errors
	}
	return n
}

// Result returns the figures of a scenario that ran.
func (r Report) Result(name string) (Result, bool) {
	for _, s := range r.Results {
		if s.Scenario == name {
			return s, true
		}
	}
	return Result{}, false
}

// WriteText writes the report as a table.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "issuer %s, %d workers per scenario\n\n", r.Issuer, r.Concurrency)
	fmt.Fprintf(&b, "%-20s %8s %7s %10s %10s %10s\n", "scenario", "count", "errors", "per second", "p50", "p99")
	for _, s := range r.Results {
		fmt.Fprintf(&b, "%-20s %8d %7d %10.1f %10s %10s\n", s.Scenario, s.Count, s.Errors, s.Throughput,
			s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond))
	}
	for _, s := range r.Results {
		for _, e := range s.FirstErrors {
			fmt.Fprintf(&b, "error %s: %s\n", s.Scenario, e)
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "skipped %s: %s\n", s.Scenario, s.Reason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Run checks the configuration, discovers the issuer and runs the
// scenarios one after another, each with cfg.Concurrency workers. It
// returns an error only when the run could not start or ctx ended; failed
// iterations are counted in the report.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Issuer == "" {
		return Report{}, errors.New("loadgen: no issuer")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Duration <= 0 && cfg.Count <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	for _, s := range cfg.Scenarios {
		if !slices.Contains(Scenarios(), s) {
			return Report{}, fmt.Errorf("loadgen: unknown scenario %q (known: %s)", s, strings.Join(Scenarios(), ", "))
		}
	}
	r, err := newRunner(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Issuer: cfg.Issuer, Concurrency: cfg.Concurrency}
	for _, name := range Scenarios() {
		if len(cfg.Scenarios) > 0 && !slices.Contains(cfg.Scenarios, name) {
			continue
		}
		sc := r.scenario(name)
		if reason := r.unsupported(ctx, name); reason != "" {
			rep.Skipped = append(rep.Skipped, Skip{Scenario: name, Reason: reason})
			continue
		}
		res, err := r.run(ctx, name, sc)
		if err != nil {
			return rep, err
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// scenario is per-worker setup (not measured) and one measured iteration.
type scenario struct {
	setup func(ctx context.Context, w *worker) error
	iter  func(ctx context.Context, w *worker) error
}

// run drives one scenario with cfg.Concurrency workers.
func (r *runner) run(ctx context.Context, name string, sc scenario) (Result, error) {
	var (
		started atomic.Int64
		ok      atomic.Int64
		failed  atomic.Int64
		mu      sync.Mutex
		lat     []time.Duration
		first   []string
	)
	fail := func(err error) {
		failed.Add(1)
		mu.Lock()
		if len(first) < 3 {
			first = append(first, err.Error())
		}
		mu.Unlock()
	}
	// Workers set up first (not measured); the clock starts when all are
	// ready. begin and deadline are written before start is closed.
	var (
		begin, deadline time.Time
		ready           sync.WaitGroup
		start           = make(chan struct{})
	)
	more := func() bool {
		if ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline)) {
			return false
		}
		return r.cfg.Count <= 0 || started.Add(1) <= int64(r.cfg.Count)
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	progress := func() {
		defer close(progressDone)
		if r.cfg.Progress == nil {
			return
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case now := <-t.C:
				el := now.Sub(begin)
				fmt.Fprintf(r.cfg.Progress, "%s %4.0fs %8d ok %6d errors %9.1f/s\n", name, el.Seconds(),
					ok.Load(), failed.Load(), float64(ok.Load())/el.Seconds())
			}
		}
	}
	var wg sync.WaitGroup
	for i := range r.cfg.Concurrency {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			w, err := r.newWorker(i)
			if err == nil && sc.setup != nil {
				err = sc.setup(ctx, w)
			}
			ready.Done()
			<-start
			if err != nil {
				if ctx.Err() == nil {
					fail(fmt.Errorf("setup: %w", err))
				}
				return
			}
			var mine []time.Duration
			for more() {
				t0 := time.Now()
				err := sc.iter(ctx, w)
				d := time.Since(t0)
				switch {
				case err == nil:
					ok.Add(1)
					mine = append(mine, d)
				case ctx.Err() != nil:
					// interrupted: neither a success nor a provider error
				default:
					fail(err)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	ready.Wait()
	begin = time.Now()
	if r.cfg.Duration > 0 {
		deadline = begin.Add(r.cfg.Duration)
	}
	go progress()
	close(start)
	wg.Wait()
	close(stopProgress)
	<-progressDone
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("loadgen: %s: %w", name, err)
	}
	el := time.Since(begin)
	res := Result{Scenario: name, Count: int(ok.Load()), Errors: int(failed.Load()), Elapsed: el, FirstErrors: first}
	if el > 0 {
		res.Throughput = float64(res.Count) / el.Seconds()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.P50, res.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	return res, nil
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
