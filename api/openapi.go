package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// OpenAPI returns the OpenAPI 3.1 document of the routes, built from the
// same table that registers them, with schemas derived from the Go types.
func (a *API) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range a.routes {
		p := Prefix + rt.Path
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"responses":   responses(rt),
		}
		var params []any
		for _, name := range pathParams(rt.Path) {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description,
				"schema": map[string]any{"type": q.Type}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.Body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.Body), true)}}}
		}
		if rt.Public {
			op["security"] = []any{}
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "mailhost provisioning API", "version": "1",
			"description": "Domains, mailboxes, aliases, alias domains, admins, API tokens and the audit log. " +
				"Errors are application/problem+json (RFC 9457) with a stable type URI; validation errors list the fields."},
		"paths":    paths,
		"security": []any{map[string]any{"bearer": []any{}}},
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer",
				"description": "an API token, mh_..., from POST /api/v1/tokens or `mailhost token create`"}},
			"schemas": map[string]any{"Problem": schemaOf(reflect.TypeOf(Problem{}), false)},
		},
	}
}

func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, part := range strings.Split(rt.Path, "/") {
		part = strings.Trim(part, "{}")
		for _, w := range strings.FieldsFunc(part, func(r rune) bool { return r == '-' || r == '.' || r == '_' }) {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

func pathParams(p string) []string {
	var out []string
	for _, part := range strings.Split(p, "/") {
		if strings.HasPrefix(part, "{") {
			out = append(out, strings.Trim(part, "{}"))
		}
	}
	return out
}

func responses(rt route) map[string]any {
	out := map[string]any{}
	ok := map[string]any{"description": http.StatusText(rt.Status)}
	if rt.Response != nil {
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.Response), false)}}
	}
	out[strconv.Itoa(rt.Status)] = ok
	codes := append([]int{}, rt.Errors...)
	if !rt.Public {
		codes = append(codes, http.StatusUnauthorized)
	}
	codes = append(codes, http.StatusInternalServerError)
	for _, c := range codes {
		out[strconv.Itoa(c)] = map[string]any{
			"description": http.StatusText(c),
			"content": map[string]any{"application/problem+json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}},
		}
	}
	return out
}

var rawMessageType = reflect.TypeOf(json.RawMessage{})

// schemaOf describes a Go type as JSON Schema (2020-12, as OpenAPI 3.1
// uses it). Request bodies (input) have optional members and forbid others.
func schemaOf(t reflect.Type, input bool) map[string]any {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	var s map[string]any
	switch {
	case t == timeType:
		s = map[string]any{"type": "string", "format": "date-time"}
	case t == rawMessageType:
		return map[string]any{}
	case t.Kind() == reflect.String:
		s = map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s = map[string]any{"type": "integer"}
	case t.Kind() == reflect.Slice:
		s = map[string]any{"type": "array", "items": schemaOf(t.Elem(), input)}
	case t.Kind() == reflect.Map:
		return map[string]any{"type": "object"}
	case t.Kind() == reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			props[name] = schemaOf(f.Type, input)
			if !input && !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
		s = map[string]any{"type": "object", "properties": props}
		if input {
			s["additionalProperties"] = false
		} else if required != nil {
			s["required"] = required
		}
	default:
		return map[string]any{}
	}
	if nullable && !input {
		s["type"] = []any{s["type"], "null"}
	}
	return s
}
