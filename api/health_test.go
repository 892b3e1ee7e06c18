package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

func TestHealthz(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
		body string
	}{
		{"up", nil, 200, `{"status":"ok","database":"ok"}`},
		{"down", errors.New("connection refused"), 503, `{"status":"unavailable","database":"unreachable"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(Healthz(pinger{tc.err}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || strings.TrimSpace(string(b)) != tc.body {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, b, tc.code, tc.body)
			}
			if strings.Contains(string(b), "refused") {
				t.Error("internal error leaked to the client")
			}
		})
	}
}
