package api

import (
	"errors"
	"log/slog"
	"net/http"

	"mailhost/admin"
)

// MTASTS serves the MTA-STS policy (RFC 8461 3.3) of the domain whose
// policy host the request names (Host: mta-sts.<domain>) at
// /.well-known/mta-sts.txt; 404 for any other host. Senders fetch it over
// HTTPS, so the HTTP listener needs TLS and a certificate valid for that
// name (RFC 8461 3.3) in front of it or on it.
func MTASTS(svc *admin.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		policy, err := svc.MTASTSPolicy(r.Context(), r.Host)
		switch {
		case errors.Is(err, admin.ErrNotFound):
			http.NotFound(w, r)
			return
		case err != nil:
			log.Error("mta-sts policy", "host", r.Host, "err", err)
			http.Error(w, "temporary failure", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain") // RFC 8461 3.2
		w.Header().Set("Cache-Control", "max-age=300")
		w.Write([]byte(policy))
	})
}
