package api

import (
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"mailhost/admin"
)

// Text the database cannot store (PostgreSQL's text takes neither NUL nor
// invalid UTF-8) is refused where a request's inputs are read, as a 422
// naming the input: path parameters and query parameters here, JSON
// members in decode.

// textProblem says what is wrong with s as text, "" when nothing is.
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL characters"
	}
	return ""
}

// checkURLText checks the route's path parameters and every query
// parameter (names and values).
func checkURLText(r *http.Request) error {
	var fe []admin.FieldError
	if rc := chi.RouteContext(r.Context()); rc != nil {
		for i, k := range rc.URLParams.Keys {
			v := rc.URLParams.Values[i]
			if u, err := url.PathUnescape(v); err == nil {
				v = u
			}
			if p := textProblem(v); p != "" {
				fe = append(fe, admin.FieldError{Field: k, Detail: p})
			}
		}
	}
	q := r.URL.Query()
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if p := textProblem(k); p != "" {
			fe = append(fe, admin.FieldError{Field: strings.ToValidUTF8(strings.ReplaceAll(k, "\x00", ""), "\uFFFD"),
				Detail: "parameter name " + p})
			continue
		}
		for _, v := range q[k] {
			if p := textProblem(v); p != "" {
				fe = append(fe, admin.FieldError{Field: k, Detail: p})
				break
			}
		}
	}
	if len(fe) > 0 {
		return &admin.ValidationError{Fields: fe}
	}
	return nil
}

// checkValueText walks a decoded JSON value for strings that are not
// storable text; field names the member (with [i] for array elements).
func checkValueText(field string, v reflect.Value, fe *[]admin.FieldError) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			checkValueText(field, v.Elem(), fe)
		}
	case reflect.String:
		if p := textProblem(v.String()); p != "" {
			*fe = append(*fe, admin.FieldError{Field: field, Detail: p})
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			checkValueText(field+"["+strconv.Itoa(i)+"]", v.Index(i), fe)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			checkValueText(field+"."+k.String(), v.MapIndex(k), fe)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				checkValueText(field, v.Field(i), fe)
			}
		}
	}
}
