// Package api is the REST API under /api/v1 and the operational endpoints
// (/healthz). It calls the admin service; it never writes SQL.
package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Pinger is what the health check needs of the database.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Healthz answers 200 {"status":"ok","database":"ok"} when the database
// answers within two seconds, else 503 with "database":"unreachable".
func Healthz(db Pinger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		body := health{Status: "ok", Database: "ok"}
		code := http.StatusOK
		if err := db.Ping(ctx); err != nil {
			body = health{Status: "unavailable", Database: "unreachable"}
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	}
}

type health struct {
	Status   string `json:"status"`
	Database string `json:"database"`
}
