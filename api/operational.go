package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// NoSniff makes every answer of the HTTP listener (API, panel, /healthz,
// /metrics) carry X-Content-Type-Options: nosniff, so that no browser
// takes a JSON or text answer for HTML or script.
func NoSniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// MetricsAccess says who may read /metrics: loopback always, clients in
// Allow (smtp.mynetworks and metrics.allow), and anyone presenting Token
// as a bearer token (metrics.token, when set). The client is the TCP
// peer; forwarded-for headers are not believed.
type MetricsAccess struct {
	Allow []netip.Prefix
	Token string
}

// Guard answers 403 (401 with a wrong token) to clients that may not
// read the metrics, with a problem document.
func (m MetricsAccess) Guard(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(m.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.allowed(r.RemoteAddr) {
			next.ServeHTTP(w, r)
			return
		}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
			if m.Token != "" && subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
				next.ServeHTTP(w, r)
				return
			}
			writeProblem(w, http.StatusUnauthorized, "unauthorized", "wrong metrics token", nil)
			return
		}
		writeProblem(w, http.StatusForbidden, "forbidden",
			"metrics are served to loopback, smtp.mynetworks and metrics.allow, or with metrics.token", nil)
	})
}

func (m MetricsAccess) allowed(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return true
	}
	for _, p := range m.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
