package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"mailhost/admin"
)

// Prefix is where the API lives.
const Prefix = "/api/v1"

// handler answers one route for an authenticated actor (the zero Actor on
// public routes) and returns the body to send, or an error to translate.
type handler func(ctx context.Context, a admin.Actor, r *request) (any, error)

// request gives handlers their inputs.
type request struct {
	w http.ResponseWriter
	r *http.Request
}

// param returns a path parameter, unescaped (IDN names arrive encoded).
func (q *request) param(name string) string {
	v := chi.URLParam(q.r, name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

func (q *request) query(name string) string { return q.r.URL.Query().Get(name) }

func (q *request) decode(dst any) error { return decode(q.w, q.r, dst) }

func (q *request) list() (admin.ListParams, error) {
	p := admin.ListParams{Q: q.query("q"), Cursor: q.query("cursor")}
	if l := q.query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return p, &admin.ValidationError{Fields: []admin.FieldError{{Field: "limit", Detail: "must be an integer from 1 to 500"}}}
		}
		p.Limit = n
	}
	return p, nil
}

func (q *request) flag(name string) (bool, error) {
	v := q.query(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &admin.ValidationError{Fields: []admin.FieldError{{Field: name, Detail: "must be true or false"}}}
	}
	return b, nil
}

func (q *request) time(name string) (*time.Time, error) {
	v := q.query(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, &admin.ValidationError{Fields: []admin.FieldError{{Field: name, Detail: "must be an RFC 3339 date-time"}}}
	}
	return &t, nil
}

// noContent is returned by handlers that answer 204.
type noContent struct{}

// API is the REST API's handler.
type API struct {
	svc    *admin.Service
	log    *slog.Logger
	routes []route
	mux    chi.Router
}

// New returns the REST API over svc; mount it at the root of the HTTP
// listener (its routes start with /api/v1).
func New(svc *admin.Service, log *slog.Logger) *API {
	a := &API{svc: svc, log: log}
	a.routes = a.table()
	r := chi.NewRouter()
	for _, rt := range a.routes {
		r.Method(rt.Method, Prefix+rt.Path, a.wrap(rt))
	}
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, http.StatusNotFound, "not-found", "no such API route", nil)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, http.StatusMethodNotAllowed, "method-not-allowed", "method not allowed on this route", nil)
	})
	a.mux = r
	return a
}

// ServeHTTP routes a request.
// Mounted below another chi router, it routes on the full path with a
// routing context of its own.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if chi.RouteContext(r.Context()) != nil {
		r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, (*chi.Context)(nil)))
	}
	a.mux.ServeHTTP(w, r)
}

func remoteAddr(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func (a *API) wrap(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var actor admin.Actor
		if !rt.Public {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || tok == "" {
				writeProblem(w, http.StatusUnauthorized, "unauthorized", "an API token is required: Authorization: Bearer mh_...", nil)
				return
			}
			var err error
			actor, err = a.svc.Authenticate(r.Context(), strings.TrimSpace(tok), remoteAddr(r))
			if err != nil {
				writeError(w, r, a.log, err)
				return
			}
		}
		body, err := any(nil), checkURLText(r) // textinput.go
		if err == nil {
			body, err = rt.h(r.Context(), actor, &request{w: w, r: r})
		}
		switch {
		case errors.Is(err, errTooLarge):
			writeProblem(w, http.StatusRequestEntityTooLarge, "payload-too-large", err.Error(), nil)
			return
		case errors.Is(err, errMalformed):
			writeProblem(w, http.StatusBadRequest, "bad-request", err.Error(), nil)
			return
		case err != nil:
			writeError(w, r, a.log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if _, ok := body.(noContent); ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rt.Status)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(body)
	}
}

func asValidation(err error, ve **admin.ValidationError) bool { return errors.As(err, ve) }
