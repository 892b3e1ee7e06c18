package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"mailhost/admin"
)

// view is what every page template gets.
type view struct {
	Title string
	S     *sess
	CSS   string
	JS    string
	Nav   string // section of the navigation to mark current
	Form  *form
	Flash string
	D     any // the page's own data
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	t, ok := h.pages[page]
	if !ok {
		h.log.Error("no such template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	status = applyBadInput(r, status, v) // textinput.go
	v.S = current(r)
	v.CSS, v.JS = h.static.URL("app.css"), h.static.URL("app.js")
	if v.Flash == "" {
		v.Flash = flashes[r.URL.Query().Get("done")]
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		h.log.Error("render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// flashes are the fixed messages a redirect after a change may show
// (?done=saved); no text of the user's travels through the URL.
var flashes = map[string]string{
	"saved":       "Saved.",
	"created":     "Created.",
	"deleted":     "Deleted.",
	"on":          "Activated.",
	"off":         "Deactivated.",
	"revoked":     "Token revoked.",
	"passwd":      "Password changed.",
	"flushed":     "Waiting recipients will be tried now.",
	"held":        "Message on hold: no delivery attempts until it is released.",
	"released":    "Message released: it will be tried now.",
	"totp-off":    "Second factor off.",
	"totp-reset":  "Second factor reset: the account logs in with its password alone until it enrols again.",
	"app-revoked": "App password revoked.",
	"unblocked":   "Block lifted: its failed logins are forgotten.",
}

// form is a submitted (or empty) form: its values, kept when it is shown
// again, and the errors next to its fields.
type form struct {
	Values url.Values
	Errors map[string]string // field name -> message
	Error  string            // a message for the whole form
	status int               // of the answer showing the form again
}

// Status is the status of an answer showing the form with its errors:
// 403 when the service refused the actor, 409 for a conflict or a limit,
// 422 for invalid input.
func (f *form) Status() int {
	if f.status != 0 {
		return f.status
	}
	return http.StatusUnprocessableEntity
}

func newForm(r *http.Request) *form {
	f := &form{Values: url.Values{}, Errors: map[string]string{}}
	if r != nil {
		if err := r.ParseForm(); err == nil {
			f.Values = r.PostForm
		}
	}
	return f
}

// Get returns a field's value, trimmed.
func (f *form) Get(name string) string { return strings.TrimSpace(f.Values.Get(name)) }

// Err returns a field's error message.
func (f *form) Err(name string) string { return f.Errors[name] }

// Has reports errors.
func (f *form) Has() bool { return len(f.Errors) > 0 || f.Error != "" }

var elemRE = regexp.MustCompile(`\[\d+\]$`)

// fail takes err into the form: the admin service's field errors go next
// to their fields (its field names are the forms' input names; an element
// "destinations[2]" belongs to "destinations"), Conflict and LimitReached
// to the top of the form. It reports whether err was such an error;
// anything else (not found, internal) is the caller's to answer.
func (f *form) fail(err error) bool {
	if err == nil {
		return false
	}
	var ve *admin.ValidationError
	if errors.As(err, &ve) {
		for _, fe := range ve.Fields {
			name := elemRE.ReplaceAllString(fe.Field, "")
			msg := fe.Detail
			if m := elemRE.FindString(fe.Field); m != "" {
				n, _ := strconv.Atoi(m[1 : len(m)-1])
				msg = fmt.Sprintf("line %d: %s", n+1, fe.Detail)
			}
			if old := f.Errors[name]; old != "" {
				msg = old + "; " + msg
			}
			f.Errors[name] = msg
		}
		f.Error = "Please correct the errors below."
		return true
	}
	switch admin.KindOf(err) {
	case admin.Forbidden:
		f.Error, f.status = err.Error(), http.StatusForbidden
		return true
	case admin.Conflict, admin.LimitReached:
		f.Error, f.status = err.Error(), http.StatusConflict
		return true
	}
	return false
}

// field is one input for the "field" partial.
type field struct {
	F                 *form
	Name, Label, Type string
	Hint              string
	Required          bool
	Auto              string // autocomplete
}

// ID is the input's id.
func (x field) ID() string { return "f-" + x.Name }

// Value is the value to show.
func (x field) Value() string { return x.F.Values.Get(x.Name) }

// Err is the field's error.
func (x field) Err() string { return x.F.Err(x.Name) }

// Checked tells a checkbox's state.
func (x field) Checked() bool {
	v := x.F.Values.Get(x.Name)
	return v == "on" || v == "true" || v == "1"
}

// Described is the aria-describedby list.
func (x field) Described() string {
	var ids []string
	if x.Err() != "" {
		ids = append(ids, x.ID()+"-err")
	}
	if x.Hint != "" {
		ids = append(ids, x.ID()+"-hint")
	}
	return strings.Join(ids, " ")
}

func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		// fld builds a field: form, name, label, type, hint; options
		// "required" and "auto=..." may follow.
		"fld": func(f *form, name, label, typ, hint string, opts ...string) field {
			x := field{F: f, Name: name, Label: label, Type: typ, Hint: hint}
			for _, o := range opts {
				if o == "required" {
					x.Required = true
				} else if a, ok := strings.CutPrefix(o, "auto="); ok {
					x.Auto = a
				}
			}
			return x
		},
		"size":    humanSize,
		"chart":   chart,
		"pct":     pct,
		"when":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"whenp":   func(t *time.Time) string { return whenPtr(t) },
		"path":    url.PathEscape,
		"q":       url.QueryEscape,
		"lines":   func(s []string) string { return strings.Join(s, "\n") },
		"join":    strings.Join,
		"limit":   limitText,
		"add":     func(a, b int) int { return a + b },
		"retains": func() int { return h.opts.RetentionDays },
		"usage":   newUsage,
		"int64":   func(n int32) int64 { return int64(n) },
		"toggle": func(action string, active bool, back, what string) toggle {
			return toggle{Action: action, Active: active, Back: back, What: what}
		},
		"quotaHint": func(d admin.DomainView) string {
			s := "A size such as 500M or 2G"
			if d.MaxQuotaBytes > 0 {
				return s + "; at most " + humanSize(d.MaxQuotaBytes) + " in this domain."
			}
			return s + "; 0 for unlimited."
		},
	}
}

// toggle is the one-click activate/deactivate button.
type toggle struct {
	Action, Back, What string
	Active             bool
}

// usage is a bar with its text: used of limit (0 = no limit).
type usage struct {
	Used, Limit int64
	Bytes       bool
}

func newUsage(used, limit int64, bytes bool) usage {
	return usage{Used: used, Limit: limit, Bytes: bytes}
}

// Pct is the share used.
func (u usage) Pct() int64 { return pct(u.Used, u.Limit) }

// Low and High colour the meter: above 75% and 90% of the limit.
func (u usage) Low() int64  { return u.Limit * 3 / 4 }
func (u usage) High() int64 { return u.Limit * 9 / 10 }

// Text is "3 of 10", "1.2 MiB of 2 GiB (60%)" or "3 (no limit)".
func (u usage) Text() string {
	f := func(n int64) string {
		if u.Bytes {
			return humanSize(n)
		}
		return strconv.FormatInt(n, 10)
	}
	if u.Limit <= 0 {
		return f(u.Used) + " (no limit)"
	}
	return f(u.Used) + " of " + f(u.Limit) + " (" + strconv.FormatInt(u.Pct(), 10) + "%)"
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// humanSize prints bytes in binary units: "1.5 GiB".
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[exp]
}

// pct is used/limit in percent, 0 when unlimited, capped at 100.
func pct(used, limit int64) int64 {
	if limit <= 0 {
		return 0
	}
	return min(used*100/limit, 100)
}

func limitText(n int64) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.FormatInt(n, 10)
}

func itoa(i int) string { return strconv.Itoa(i) }

// parseSize reads a size with an optional K, M, G or T suffix (binary
// units, as the CLI); "" is nil (not given).
func parseSize(s string) (*int64, bool) {
	s = strings.TrimSpace(strings.ToUpper(s))
	if s == "" {
		return nil, true
	}
	s = strings.TrimSuffix(strings.TrimSuffix(s, "B"), "I")
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			s = strings.TrimSpace(s[:n-1])
		}
	}
	if strings.Contains(s, ".") {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v*float64(mult) > 1<<62 {
			return nil, false
		}
		n := int64(v * float64(mult))
		return &n, true
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return nil, false
	}
	v *= mult
	return &v, true
}

// sizeIn puts a size field of the form into dst, or an error next to it.
func (f *form) size(name string, dst **int64) {
	v, ok := parseSize(f.Get(name))
	if !ok {
		f.Errors[name] = "must be a size such as 500M, 2G or 0 (unlimited)"
		return
	}
	*dst = v
}

// count puts a whole-number field into dst, or an error next to it.
func (f *form) count(name string, dst **int64) {
	s := f.Get(name)
	if s == "" {
		return
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f.Errors[name] = "must be a whole number (0 for unlimited)"
		return
	}
	*dst = &v
}

// checkbox returns a pointer to a checkbox's state (a missing box is off).
func (f *form) checkbox(name string) *bool {
	v := f.Values.Get(name) != ""
	return &v
}

// str returns a pointer to a text field's trimmed value.
func (f *form) str(name string) *string {
	v := f.Get(name)
	return &v
}

// secret takes a password field out of the form: its raw value (passwords
// are not trimmed), removed so it is never rendered back to the browser.
func (f *form) secret(name string) string {
	v := f.Values.Get(name)
	f.Values.Del(name)
	return v
}

// optionalSecret is secret for a field that may stay empty ("keep" or
// "generate one"): nil when it is.
func (f *form) optionalSecret(name string) *string {
	if v := f.secret(name); v != "" {
		return &v
	}
	return nil
}

// lines returns the non-empty lines of a textarea.
func (f *form) lines(name string) *[]string {
	out := []string{}
	for _, l := range strings.Split(f.Values.Get(name), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return &out
}

// sizeValue prints a stored size for an edit form, in the largest unit
// that divides it.
func sizeValue(n int64) string {
	for _, u := range []struct {
		s string
		v int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n != 0 && n%u.v == 0 {
			return strconv.FormatInt(n/u.v, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// redirect answers a POST with 303 to a local path.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}
