package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"mailhost/admin"
)

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

// errTooLarge and errMalformed are answered 413 and 400.
var (
	errTooLarge  = errors.New("request body larger than 1 MiB")
	errMalformed = errors.New("request body must be a JSON object")
)

// decode reads a JSON object into dst, a pointer to an input struct whose
// fields are pointers with json tags. Each member is decoded on its own,
// so an unknown member or a value of the wrong type is reported by its
// field name (422), all of them at once.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return errMalformed
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return errMalformed
	}
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	index := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		index[name] = i
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var fe []admin.FieldError
	for _, k := range keys {
		i, ok := index[k]
		if !ok {
			fe = append(fe, admin.FieldError{Field: k, Detail: "unknown field"})
			continue
		}
		if !utf8.Valid(members[k]) {
			fe = append(fe, admin.FieldError{Field: k, Detail: "must be valid UTF-8"})
			continue
		}
		f := v.Field(i)
		p := reflect.New(f.Type())
		dec := json.NewDecoder(bytes.NewReader(members[k]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(p.Interface()); err != nil {
			fe = append(fe, admin.FieldError{Field: k, Detail: "must be " + typeName(f.Type())})
			continue
		}
		n := len(fe)
		if checkValueText(k, p.Elem(), &fe); len(fe) > n {
			continue
		}
		f.Set(p.Elem())
	}
	if len(fe) > 0 {
		return &admin.ValidationError{Fields: fe}
	}
	return nil
}

var timeType = reflect.TypeOf(time.Time{})

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return "an RFC 3339 date-time string or null"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "an integer"
	case t.Kind() == reflect.Slice:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(typeName(t.Elem()), "an "), "a ") + "s"
	}
	return fmt.Sprintf("a %s", t.Kind())
}
