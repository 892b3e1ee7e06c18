package api

import (
	"context"
	"net/http"

	"mailhost/admin"
)

// sieveRoutes are the Sieve scripts' routes: a mailbox's (its domain's
// admins), activation, "test this message", and a domain's scripts that
// run before or after every owner's (its admins).
func (a *API) sieveRoutes() []route {
	s := a.svc
	ok, none := http.StatusOK, http.StatusNoContent
	read := []int{404, 422}
	write := []int{400, 404, 409, 413, 422}
	return []route{
		{Method: "GET", Path: "/mailboxes/{address}/sieve/scripts", Summary: "list a mailbox's Sieve scripts (no content) and its last run-time error",
			Status: ok, Errors: read, Response: admin.SieveScriptsView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.SieveScripts(ctx, ac, r.param("address"))
			}},
		{Method: "GET", Path: "/mailboxes/{address}/sieve/scripts/{name}", Summary: "show a mailbox's Sieve script", Status: ok, Errors: read,
			Response: admin.SieveScriptView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.SieveScript(ctx, ac, r.param("address"), r.param("name"))
			}},
		{Method: "PUT", Path: "/mailboxes/{address}/sieve/scripts/{name}", Summary: "create or replace a mailbox's Sieve script (compiled first: an error names its line)",
			Status: ok, Errors: write, Body: admin.SieveScriptInput{}, Response: admin.SieveScriptView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.SieveScriptInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.PutSieveScript(ctx, ac, r.param("address"), r.param("name"), in)
			}},
		{Method: "DELETE", Path: "/mailboxes/{address}/sieve/scripts/{name}", Summary: "delete a mailbox's Sieve script (not the active one: 409)",
			Status: none, Errors: []int{404, 409}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.DeleteSieveScript(ctx, ac, r.param("address"), r.param("name"))
			}},
		{Method: "PUT", Path: "/mailboxes/{address}/sieve/active", Summary: "make one of a mailbox's scripts the active one (name \"\": none)",
			Status: none, Errors: write, Body: admin.SieveActivation{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.SieveActivation
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return noContent{}, s.ActivateSieveScript(ctx, ac, r.param("address"), in)
			}},
		{Method: "POST", Path: "/mailboxes/{address}/sieve/test", Summary: "run a script against a pasted message and list the actions (nothing is stored or sent)",
			Status: ok, Errors: write, Body: admin.SieveTestInput{}, Response: admin.SieveTestResult{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.SieveTestInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.TestSieveScript(ctx, ac, r.param("address"), in)
			}},
		{Method: "GET", Path: "/domains/{domain}/sieve/scripts", Summary: "list a domain's Sieve scripts (run before or after every owner's, or global for include)",
			Status: ok, Errors: []int{403, 404, 422}, Response: admin.SieveScriptsView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.DomainSieveScripts(ctx, ac, r.param("domain"))
			}},
		{Method: "GET", Path: "/domains/{domain}/sieve/scripts/{name}", Summary: "show a domain's Sieve script", Status: ok, Errors: []int{403, 404, 422},
			Response: admin.SieveScriptView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.DomainSieveScript(ctx, ac, r.param("domain"), r.param("name"))
			}},
		{Method: "PUT", Path: "/domains/{domain}/sieve/scripts/{name}", Summary: "create or replace a domain's Sieve script: position before (default), after or global; active (default true)",
			Status: ok, Errors: []int{400, 403, 404, 413, 422}, Body: admin.SieveScriptInput{}, Response: admin.SieveScriptView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.SieveScriptInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.PutDomainSieveScript(ctx, ac, r.param("domain"), r.param("name"), in)
			}},
		{Method: "GET", Path: "/domains/{domain}/quota-warning", Summary: "show the text of a domain's quota warnings (\"\": the built-in one)",
			Status: ok, Errors: []int{403, 404}, Response: admin.QuotaWarningView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.QuotaWarningText(ctx, ac, r.param("domain"))
			}},
		{Method: "PUT", Path: "/domains/{domain}/quota-warning", Summary: "set the text of a domain's quota warnings (%ADDRESS%, %PERCENT%, %USED%, %QUOTA% are replaced)",
			Status: ok, Errors: []int{400, 403, 404, 413, 422}, Body: admin.QuotaWarningView{}, Response: admin.QuotaWarningView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.QuotaWarningView
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.SetQuotaWarningText(ctx, ac, r.param("domain"), in)
			}},
		{Method: "DELETE", Path: "/domains/{domain}/sieve/scripts/{name}", Summary: "delete a domain's Sieve script",
			Status: none, Errors: []int{403, 404}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.DeleteDomainSieveScript(ctx, ac, r.param("domain"), r.param("name"))
			}},
	}
}
