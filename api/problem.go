package api

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"mailhost/admin"
)

// ProblemBase prefixes every problem type URI.
const ProblemBase = "https://mailhost.dev/problems/"

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string             `json:"type"`
	Title  string             `json:"title"`
	Status int                `json:"status"`
	Detail string             `json:"detail"`
	Errors []admin.FieldError `json:"errors,omitempty"`
}

var problemTitles = map[string]string{
	"validation":         "Invalid input",
	"bad-request":        "Malformed request",
	"not-found":          "Not found",
	"conflict":           "Conflict",
	"limit-reached":      "Limit reached",
	"unauthorized":       "Unauthorized",
	"forbidden":          "Forbidden",
	"too-many-requests":  "Too many requests",
	"unavailable":        "Service unavailable",
	"payload-too-large":  "Payload too large",
	"method-not-allowed": "Method not allowed",
	"internal":           "Internal error",
}

func writeProblem(w http.ResponseWriter, status int, kind, detail string, fields []admin.FieldError) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mailhost"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{Type: ProblemBase + kind, Title: problemTitles[kind], Status: status, Detail: detail, Errors: fields})
}

// writeError translates a service error; anything unexpected is logged and
// answered with a generic 500, never its text.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var ve *admin.ValidationError
	if asValidation(err, &ve) {
		writeProblem(w, http.StatusUnprocessableEntity, "validation", ve.Error(), ve.Fields)
		return
	}
	switch admin.KindOf(err) {
	case admin.NotFound:
		writeProblem(w, http.StatusNotFound, "not-found", err.Error(), nil)
	case admin.Forbidden:
		writeProblem(w, http.StatusForbidden, "forbidden", err.Error(), nil)
	case admin.Conflict:
		writeProblem(w, http.StatusConflict, "conflict", err.Error(), nil)
	case admin.LimitReached:
		writeProblem(w, http.StatusConflict, "limit-reached", err.Error(), nil)
	case admin.Unauthorized:
		writeProblem(w, http.StatusUnauthorized, "unauthorized", err.Error(), nil)
	case admin.Throttled:
		w.Header().Set("Retry-After", "60")
		writeProblem(w, http.StatusTooManyRequests, "too-many-requests", err.Error(), nil)
	case admin.Unavailable:
		w.Header().Set("Retry-After", "5")
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
	default:
		log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeProblem(w, http.StatusInternalServerError, "internal", "internal error; the server log has the details", nil)
	}
}
