package api

import (
	"context"
	"net/http"
	"slices"

	"mailhost/admin"
)

// route is one API route: how it is served and how openapi.json
// describes it. The table is the single source of both.
type route struct {
	Method, Path string // Path below Prefix, chi pattern
	Summary      string
	Public       bool // no token needed
	Status       int  // on success
	Body         any  // request body type (zero value), nil for none
	Response     any  // response body type (zero value), nil for 204
	Query        []queryParam
	Errors       []int // besides 401 (every non-public route) and 500
	h            handler
}

type queryParam struct{ Name, Type, Description string }

var listQuery = []queryParam{
	{"q", "string", "substring filter"},
	{"cursor", "string", "next_cursor of the previous page"},
	{"limit", "integer", "page size, 1 to 500 (default 50)"},
}

func (a *API) table() []route {
	s := a.svc
	ok, created := http.StatusOK, http.StatusCreated
	read := []int{404, 422}
	write := []int{400, 404, 409, 413, 422}
	del := []int{404, 409}
	return append([]route{
		{Method: "GET", Path: "/openapi.json", Summary: "this OpenAPI 3.1 document", Public: true, Status: ok,
			Response: map[string]any{}, h: func(context.Context, admin.Actor, *request) (any, error) { return a.OpenAPI(), nil }},

		{Method: "GET", Path: "/domains", Summary: "list domains with their usage", Status: ok, Query: listQuery, Errors: []int{422},
			Response: admin.List[admin.DomainView]{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				p, err := r.list()
				if err != nil {
					return nil, err
				}
				return s.Domains(ctx, ac, p)
			}},
		{Method: "POST", Path: "/domains", Summary: "create a domain (super-admin)", Status: created, Errors: []int{400, 403, 409, 413, 422},
			Body: admin.DomainInput{}, Response: admin.DomainView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.DomainInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.CreateDomain(ctx, ac, in)
			}},
		{Method: "GET", Path: "/domains/{domain}", Summary: "show a domain with its usage", Status: ok, Errors: read,
			Response: admin.DomainView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.Domain(ctx, ac, r.param("domain"))
			}},
		{Method: "PATCH", Path: "/domains/{domain}", Summary: "change a domain's fields", Status: ok, Errors: append(write, 403),
			Body: admin.DomainInput{}, Response: admin.DomainView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.DomainInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.UpdateDomain(ctx, ac, r.param("domain"), in)
			}},
		{Method: "DELETE", Path: "/domains/{domain}", Summary: "delete a domain; force=true also deletes its mailboxes (retained), aliases and alias domains",
			Status: http.StatusNoContent, Errors: []int{403, 404, 409, 422},
			Query: []queryParam{{"force", "boolean", "delete a domain that still has mailboxes or aliases"}},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				force, err := r.flag("force")
				if err != nil {
					return nil, err
				}
				return noContent{}, s.DeleteDomain(ctx, ac, r.param("domain"), force)
			}},

		{Method: "GET", Path: "/domains/{domain}/mailboxes", Summary: "list a domain's mailboxes", Status: ok, Query: listQuery, Errors: read,
			Response: admin.List[admin.MailboxView]{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				p, err := r.list()
				if err != nil {
					return nil, err
				}
				return s.Mailboxes(ctx, ac, r.param("domain"), p)
			}},
		{Method: "POST", Path: "/domains/{domain}/mailboxes", Summary: "create a mailbox and its Maildir; a generated password is returned once", Status: created,
			Errors: write, Body: admin.MailboxInput{}, Response: admin.MailboxView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.MailboxInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.CreateMailbox(ctx, ac, r.param("domain"), in)
			}},
		{Method: "GET", Path: "/mailboxes/{address}", Summary: "show a mailbox", Status: ok, Errors: read,
			Response: admin.MailboxView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.Mailbox(ctx, ac, r.param("address"))
			}},
		{Method: "PATCH", Path: "/mailboxes/{address}", Summary: "change a mailbox's name, quota, password or active flag", Status: ok, Errors: write,
			Body: admin.MailboxInput{}, Response: admin.MailboxView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.MailboxInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.UpdateMailbox(ctx, ac, r.param("address"), in)
			}},
		{Method: "DELETE", Path: "/mailboxes/{address}", Summary: "delete a mailbox; its Maildir is retained, or removed with purge=true",
			Status: http.StatusNoContent, Errors: []int{404, 422},
			Query: []queryParam{{"purge", "boolean", "remove the Maildir at once instead of retaining it"}},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				purge, err := r.flag("purge")
				if err != nil {
					return nil, err
				}
				return noContent{}, s.DeleteMailbox(ctx, ac, r.param("address"), purge)
			}},
		{Method: "GET", Path: "/mailboxes/{address}/forwarding", Summary: "show a mailbox's forwarding", Status: ok, Errors: read,
			Response: admin.ForwardingView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.Forwarding(ctx, ac, r.param("address"))
			}},
		{Method: "PUT", Path: "/mailboxes/{address}/forwarding", Summary: "set a mailbox's forwarding", Status: ok, Errors: write,
			Body: admin.ForwardingInput{}, Response: admin.ForwardingView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.ForwardingInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.SetForwarding(ctx, ac, r.param("address"), in)
			}},
		{Method: "DELETE", Path: "/mailboxes/{address}/forwarding", Summary: "stop a mailbox's forwarding", Status: http.StatusNoContent, Errors: del,
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.DeleteForwarding(ctx, ac, r.param("address"))
			}},
		{Method: "GET", Path: "/mailboxes/{address}/vacation", Summary: "show a mailbox's vacation reply", Status: ok, Errors: read,
			Response: admin.VacationView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.Vacation(ctx, ac, r.param("address"))
			}},
		{Method: "PUT", Path: "/mailboxes/{address}/vacation", Summary: "set a mailbox's vacation reply", Status: ok, Errors: write,
			Body: admin.VacationInput{}, Response: admin.VacationView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.VacationInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.SetVacation(ctx, ac, r.param("address"), in)
			}},
		{Method: "DELETE", Path: "/mailboxes/{address}/vacation", Summary: "remove a mailbox's vacation reply", Status: http.StatusNoContent, Errors: del,
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.DeleteVacation(ctx, ac, r.param("address"))
			}},

		{Method: "GET", Path: "/domains/{domain}/aliases", Summary: "list a domain's aliases", Status: ok, Query: listQuery, Errors: read,
			Response: admin.List[admin.AliasView]{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				p, err := r.list()
				if err != nil {
					return nil, err
				}
				return s.Aliases(ctx, ac, r.param("domain"), p)
			}},
		{Method: "POST", Path: "/domains/{domain}/aliases", Summary: "create an alias or a catch-all (@domain)", Status: created, Errors: write,
			Body: admin.AliasInput{}, Response: admin.AliasView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.AliasInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.CreateAlias(ctx, ac, r.param("domain"), in)
			}},
		{Method: "GET", Path: "/aliases/{address}", Summary: "show an alias", Status: ok, Errors: read,
			Response: admin.AliasView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.Alias(ctx, ac, r.param("address"))
			}},
		{Method: "PATCH", Path: "/aliases/{address}", Summary: "change an alias's destinations or active flag", Status: ok, Errors: write,
			Body: admin.AliasInput{}, Response: admin.AliasView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.AliasInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.UpdateAlias(ctx, ac, r.param("address"), in)
			}},
		{Method: "DELETE", Path: "/aliases/{address}", Summary: "delete an alias", Status: http.StatusNoContent, Errors: []int{404},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.DeleteAlias(ctx, ac, r.param("address"))
			}},

		{Method: "GET", Path: "/alias-domains", Summary: "list alias domains", Status: ok, Query: listQuery, Errors: []int{422},
			Response: admin.List[admin.AliasDomainView]{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				p, err := r.list()
				if err != nil {
					return nil, err
				}
				return s.AliasDomains(ctx, ac, p)
			}},
		{Method: "POST", Path: "/alias-domains", Summary: "create an alias domain (super-admin)", Status: created, Errors: []int{400, 403, 409, 413, 422},
			Body: admin.AliasDomainInput{}, Response: admin.AliasDomainView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.AliasDomainInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.CreateAliasDomain(ctx, ac, in)
			}},
		{Method: "GET", Path: "/alias-domains/{domain}", Summary: "show an alias domain", Status: ok, Errors: read,
			Response: admin.AliasDomainView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.AliasDomain(ctx, ac, r.param("domain"))
			}},
		{Method: "DELETE", Path: "/alias-domains/{domain}", Summary: "delete an alias domain (super-admin)", Status: http.StatusNoContent,
			Errors: []int{403, 404}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.DeleteAliasDomain(ctx, ac, r.param("domain"))
			}},

		{Method: "GET", Path: "/admins", Summary: "list admins (super-admin)", Status: ok, Query: listQuery, Errors: []int{403, 422},
			Response: admin.List[admin.AdminView]{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				p, err := r.list()
				if err != nil {
					return nil, err
				}
				return s.Admins(ctx, ac, p)
			}},
		{Method: "POST", Path: "/admins", Summary: "create an admin (super-admin)", Status: created, Errors: []int{400, 403, 409, 413, 422},
			Body: admin.AdminInput{}, Response: admin.AdminView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.AdminInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.CreateAdmin(ctx, ac, in)
			}},
		{Method: "GET", Path: "/admins/{username}", Summary: "show an admin (a domain admin: only itself)", Status: ok, Errors: read,
			Response: admin.AdminView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.Admin(ctx, ac, r.param("username"))
			}},
		{Method: "PATCH", Path: "/admins/{username}", Summary: "change an admin (a domain admin: only its own password)", Status: ok,
			Errors: append(write, 403), Body: admin.AdminInput{}, Response: admin.AdminView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.AdminInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.UpdateAdmin(ctx, ac, r.param("username"), in)
			}},
		{Method: "DELETE", Path: "/admins/{username}", Summary: "delete an admin and its tokens (super-admin)", Status: http.StatusNoContent,
			Errors: []int{403, 404, 409}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.DeleteAdmin(ctx, ac, r.param("username"))
			}},

		{Method: "GET", Path: "/tokens", Summary: "list API tokens (a domain admin: its own)", Status: ok, Query: listQuery[1:], Errors: []int{422},
			Response: admin.List[admin.TokenView]{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				p, err := r.list()
				if err != nil {
					return nil, err
				}
				return s.Tokens(ctx, ac, p)
			}},
		{Method: "POST", Path: "/tokens", Summary: "create an API token; the secret is in this answer only", Status: created,
			Errors: []int{400, 403, 413, 422}, Body: admin.TokenInput{}, Response: admin.TokenView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.TokenInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.CreateToken(ctx, ac, in)
			}},
		{Method: "DELETE", Path: "/tokens/{id}", Summary: "revoke an API token", Status: http.StatusNoContent, Errors: []int{404},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.RevokeToken(ctx, ac, r.param("id"))
			}},

		{Method: "GET", Path: "/audit-log", Summary: "list audit log entries, newest first", Status: ok, Errors: []int{422},
			Query: []queryParam{
				{"actor", "string", "exact actor"}, {"action", "string", "create, update, delete, ..."},
				{"object_type", "string", "domain, mailbox, alias, ..."}, {"object", "string", "exact object"},
				{"domain", "string", "domain concerned"}, {"since", "string", "RFC 3339, inclusive"}, {"until", "string", "RFC 3339, exclusive"},
				{"cursor", "string", "next_cursor of the previous page"}, {"limit", "integer", "page size, 1 to 500 (default 50)"},
			},
			Response: admin.List[admin.AuditView]{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				p, err := r.list()
				if err != nil {
					return nil, err
				}
				since, err := r.time("since")
				if err != nil {
					return nil, err
				}
				until, err := r.time("until")
				if err != nil {
					return nil, err
				}
				return s.AuditLog(ctx, ac, admin.AuditParams{Actor: r.query("actor"), Action: r.query("action"),
					ObjectType: r.query("object_type"), Object: r.query("object"), Domain: r.query("domain"),
					Since: since, Until: until, Cursor: p.Cursor, Limit: p.Limit})
			}},
	}, slices.Concat(a.queueRoutes(), a.policyRoutes(), a.secondFactorRoutes(), a.loginBlockRoutes(),
		a.contentFilterRoutes(), a.inboundPolicyRoutes(), a.dnsRoutes(), a.sieveRoutes())...) // api/queue.go, policy.go, second_factor.go, login_blocks.go, content_filter.go, inbound_policy.go, dns.go, sieve.go
}
