package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"mailhost/admin"
	"mailhost/api"
	"mailhost/auth"
	"mailhost/testdb"
)

// Invalid tokens from one address are throttled with the mail protocols'
// policy: after max_failures the answer is 429 with a problem document
// and a Retry-After of the block's remaining seconds, not a fixed guess.
func TestThrottledTokensRetryAfterTheBlock(t *testing.T) {
	st := testdb.Open(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	guard, err := auth.NewAuthenticator(st, auth.Options{Hasher: testHasher, ThrottleStore: st, Log: log,
		Throttle: auth.ThrottleConfig{MaxFailures: 2, Block: time.Hour, Delay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(st, admin.Options{Hasher: testHasher, Log: log, Logins: guard})
	srv := httptest.NewServer(api.New(svc, log))
	t.Cleanup(srv.Close)
	try := func() *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/domains", nil)
		req.Header.Set("Authorization", "Bearer "+admin.TokenPrefix+"guess")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 2 {
		if resp := try(); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d; want 401", i, resp.StatusCode)
		}
	}
	resp := try()
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || err != nil || secs < 3500 || secs > 3600 {
		t.Fatalf("after the block began: %d, Retry-After %q; want 429 and about 3600", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q", ct)
	}
}
