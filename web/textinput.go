package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
)

// Text the database cannot store (PostgreSQL's text takes neither NUL nor
// invalid UTF-8) is refused where the panel reads a request's inputs, for
// every route at once: query parameters (searches, filters) and form
// fields. Such a request does nothing; the page is shown again as its GET
// shows it, with the input kept (cleaned) and the error next to each bad
// field, status 422.

// badInput is what a refused request carries to the page shown instead.
type badInput struct {
	values url.Values        // the submitted form and query, cleaned
	errors map[string]string // field -> message
}

type badInputKey struct{}

func badInputOf(r *http.Request) *badInput {
	b, _ := r.Context().Value(badInputKey{}).(*badInput)
	return b
}

// textProblem says what is wrong with s as text, "" when nothing is.
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "Must be valid UTF-8 text."
	case strings.IndexByte(s, 0) >= 0:
		return "Must not contain NUL characters."
	}
	return ""
}

func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// check adds the problems of vs to in; bad values are left out of
// clean and kept cleaned in in.values.
func (in *badInput) check(vs url.Values, clean url.Values) {
	for k, list := range vs {
		name := cleanText(k)
		bad := textProblem(k)
		for _, v := range list {
			if p := textProblem(v); p != "" && bad == "" {
				bad = p
			}
			in.values.Add(name, cleanText(v))
		}
		if bad != "" {
			in.errors[name] = bad
			continue
		}
		if clean != nil {
			clean[k] = list
		}
	}
}

// textInput refuses requests with text the database cannot take.
func (h *Handler) textInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if badInputOf(r) != nil {
			next.ServeHTTP(w, r)
			return
		}
		in := &badInput{values: url.Values{}, errors: map[string]string{}}
		query := url.Values{}
		in.check(r.URL.Query(), query)
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err == nil {
				in.check(r.PostForm, nil)
			}
		}
		if len(in.errors) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		h.log.Info("refused input: not storable text", "method", r.Method, "path", r.URL.Path,
			"remote", remoteAddr(r))
		ctx := context.WithValue(r.Context(), badInputKey{}, in)
		routes, _ := h.h.(chi.Routes)
		if routes == nil || !routes.Match(chi.NewRouteContext(), http.MethodGet, r.URL.Path) {
			h.errorPage(w, r.WithContext(ctx), http.StatusUnprocessableEntity, "Invalid input",
				"The request contains text that is not valid (NUL characters or invalid UTF-8). Nothing was changed.")
			return
		}
		// The page again, as its GET shows it, without the bad values.
		g := r.Clone(context.WithValue(ctx, chi.RouteCtxKey, (*chi.Context)(nil)))
		g.Method, g.Body, g.ContentLength = http.MethodGet, http.NoBody, 0
		g.Form, g.PostForm = nil, nil
		g.URL.RawQuery = query.Encode()
		g.RequestURI = g.URL.RequestURI()
		h.h.ServeHTTP(w, g)
	})
}

// applyBadInput shows a refused request's errors on the page rendered for
// it: next to their fields, with the input as submitted (cleaned), 422.
func applyBadInput(r *http.Request, status int, v *view) int {
	in := badInputOf(r)
	if in == nil {
		return status
	}
	if v.Form == nil {
		v.Form = newForm(nil)
	}
	for k, vals := range in.values {
		v.Form.Values[k] = vals
	}
	for k, msg := range in.errors {
		v.Form.Errors[k] = msg
	}
	v.Form.Error = "Please correct the errors below."
	if status < 300 {
		status = http.StatusUnprocessableEntity
	}
	return status
}
