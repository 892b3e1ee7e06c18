package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/api"
	"mailhost/config"
)

type upDB struct{}

func (upDB) Ping(context.Context) error { return nil }

// TestHTTPRoutesMetricsAndNosniff: /metrics answers loopback, mynetworks
// and metrics.allow, or a client with metrics.token; everyone else gets a
// 403 (401 for a wrong token) problem document. Every answer (API, panel,
// health, metrics, refusals) carries X-Content-Type-Options: nosniff.
func TestHTTPRoutesMetricsAndNosniff(t *testing.T) {
	cfg := config.Default()
	cfg.SMTP.Mynetworks = []string{"127.0.0.1/32", "192.0.2.0/24"}
	cfg.Metrics.Allow = []string{"198.51.100.7"}
	cfg.Metrics.Token = "s3cret-metrics-token"
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "mailhost_test_total", Help: "test"}))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	panel := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<p>panel</p>") })
	h := httpRoutes(upDB{}, reg, metricsAccess(&cfg), api.New(nil, log), panel, http.NotFoundHandler())

	get := func(path, remote, token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = remote
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s from %s: X-Content-Type-Options %q, want nosniff", path, remote, got)
		}
		return w
	}
	for _, tc := range []struct {
		remote, token string
		code          int
	}{
		{"127.0.0.1:5000", "", 200},
		{"[::1]:5000", "", 200},
		{"192.0.2.9:5000", "", 200},     // mynetworks
		{"198.51.100.7:5000", "", 200},  // metrics.allow
		{"203.0.113.5:5000", "", 403},   // anyone else
		{"[2001:db8::1]:5000", "", 403}, // anyone else
		{"203.0.113.5:5000", "s3cret-metrics-token", 200},
		{"203.0.113.5:5000", "wrong-token-wrong-token", 401},
	} {
		w := get("/metrics", tc.remote, tc.token)
		if w.Code != tc.code {
			t.Errorf("/metrics from %s (token %q): %d, want %d", tc.remote, tc.token, w.Code, tc.code)
		}
		switch {
		case tc.code == 200 && !strings.Contains(w.Body.String(), "mailhost_test_total"):
			t.Errorf("/metrics from %s: no metrics in %q", tc.remote, w.Body.String())
		case tc.code != 200 && (w.Header().Get("Content-Type") != "application/problem+json" || strings.Contains(w.Body.String(), "mailhost_test_total")):
			t.Errorf("/metrics from %s: refusal %q %q, want a problem document without metrics", tc.remote, w.Header().Get("Content-Type"), w.Body.String())
		}
	}
	for _, path := range []string{"/healthz", "/api/v1/domains", "/api/v1/openapi.json", "/api/v1/nowhere", "/", "/domains"} {
		get(path, "203.0.113.5:5000", "")
	}
}
