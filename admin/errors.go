package admin

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies the errors the faces (API, CLI, web) translate.
type Kind int

// The kinds of Error.
const (
	NotFound     Kind = iota + 1 // no such object, or not the caller's to see (404)
	Forbidden                    // the caller knows it exists but may not do this (403)
	Conflict                     // duplicate, or the object is in use (409)
	LimitReached                 // a domain limit would be exceeded (409)
	Unauthorized                 // no valid credentials (401)
	Throttled                    // too many failed logins from the address or for the account (429)
	Unavailable                  // a temporary shortage, e.g. no password-hash slot in time (503)
)

// Error is a failure the caller may be shown: Detail is written for users
// and never holds internal details.
type Error struct {
	Kind   Kind
	Detail string
}

func (e *Error) Error() string { return e.Detail }

// Is lets errors.Is(err, &Error{Kind: NotFound}) match on the kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Detail == ""
}

func newErr(k Kind, format string, a ...any) error {
	return &Error{Kind: k, Detail: fmt.Sprintf(format, a...)}
}

// Sentinels for errors.Is.
var (
	ErrNotFound     = &Error{Kind: NotFound}
	ErrForbidden    = &Error{Kind: Forbidden}
	ErrConflict     = &Error{Kind: Conflict}
	ErrLimitReached = &Error{Kind: LimitReached}
	ErrUnauthorized = &Error{Kind: Unauthorized}
)

// KindOf returns the kind of err, 0 when it is not an *Error (an internal
// failure: log it, answer generically).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// FieldError names one invalid input field (snake_case, as in the API body;
// "destinations[1]" for an element).
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// ValidationError lists every invalid field of an input.
type ValidationError struct {
	Fields []FieldError
}

func (v *ValidationError) Error() string {
	parts := make([]string, len(v.Fields))
	for i, f := range v.Fields {
		parts[i] = f.Field + ": " + f.Detail
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// fields collects field errors while validating an input.
type fields struct{ list []FieldError }

func (f *fields) add(field, format string, a ...any) {
	f.list = append(f.list, FieldError{Field: field, Detail: fmt.Sprintf(format, a...)})
}

func (f *fields) err() error {
	if len(f.list) == 0 {
		return nil
	}
	return &ValidationError{Fields: f.list}
}

func invalid(field, format string, a ...any) error {
	var f fields
	f.add(field, format, a...)
	return f.err()
}
