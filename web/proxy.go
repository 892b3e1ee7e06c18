package web

import (
	"context"
	"net/http"
	"strings"
)

// httpsKey marks a request that reached a trusted reverse proxy over
// HTTPS.
type httpsKey struct{}

// forwardedProto believes X-Forwarded-Proto: https from a trusted proxy
// (web.trusted_proxies), so that the panel behind a TLS-terminating proxy
// sets Secure, __Host- cookies as it does on its own HTTPS listener.
func (h *Handler) forwardedProto(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https") {
			ip := remoteIP(r)
			for _, p := range h.opts.TrustedProxies {
				if p.Contains(ip) {
					r = r.WithContext(context.WithValue(r.Context(), httpsKey{}, true))
					break
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// secure reports whether the browser reached the panel over HTTPS: on the
// HTTPS listener, or through a trusted proxy that says so.
func secure(r *http.Request) bool {
	return r.TLS != nil || r.Context().Value(httpsKey{}) == true
}
