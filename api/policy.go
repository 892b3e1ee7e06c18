package api

import (
	"context"
	"net/http"

	"mailhost/admin"
)

// policyRoutes are the routes of the SMTP server's policy tables: access
// rules (Postfix access(5)) and relocated entries (Postfix relocated(5)).
// A super-admin manages all; a domain admin the recipient rules and the
// relocated entries of its domains' addresses.
func (a *API) policyRoutes() []route {
	s := a.svc
	ok, created := http.StatusOK, http.StatusCreated
	write := []int{400, 403, 404, 409, 413, 422}
	return []route{
		{Method: "GET", Path: "/access-rules", Summary: "list access rules: client, HELO, sender, then recipient rules, each by pattern (a domain admin: its domains' recipient rules)",
			Status: ok, Errors: []int{422},
			Query: append([]queryParam{{"kind", "string", "client, helo, sender or recipient"},
				{"domain", "string", "only the recipient rules of this domain's addresses"}}, listQuery...),
			Response: admin.List[admin.AccessRuleView]{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				p, err := r.list()
				if err != nil {
					return nil, err
				}
				return s.AccessRules(ctx, ac, admin.AccessRuleParams{Kind: r.query("kind"), Domain: r.query("domain"), ListParams: p})
			}},
		{Method: "POST", Path: "/access-rules", Summary: "create an access rule (Postfix access(5)): kind, pattern, action OK, DUNNO, REJECT, DEFER, DISCARD or HOLD, optional code and text",
			Status: created, Errors: write, Body: admin.AccessRuleInput{}, Response: admin.AccessRuleView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.AccessRuleInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.CreateAccessRule(ctx, ac, in)
			}},
		{Method: "GET", Path: "/access-rules/{id}", Summary: "show an access rule", Status: ok, Errors: []int{404},
			Response: admin.AccessRuleView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.AccessRule(ctx, ac, r.param("id"))
			}},
		{Method: "PATCH", Path: "/access-rules/{id}", Summary: "change an access rule's action, code, text or comment",
			Status: ok, Errors: write, Body: admin.AccessRuleInput{}, Response: admin.AccessRuleView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.AccessRuleInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.UpdateAccessRule(ctx, ac, r.param("id"), in)
			}},
		{Method: "DELETE", Path: "/access-rules/{id}", Summary: "delete an access rule", Status: http.StatusNoContent, Errors: []int{404},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.DeleteAccessRule(ctx, ac, r.param("id"))
			}},

		{Method: "GET", Path: "/relocated", Summary: "list relocated addresses (a domain admin: its domains')", Status: ok, Errors: []int{422},
			Query:    append([]queryParam{{"domain", "string", "only this domain's addresses"}}, listQuery...),
			Response: admin.List[admin.RelocatedView]{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				p, err := r.list()
				if err != nil {
					return nil, err
				}
				return s.RelocatedList(ctx, ac, admin.RelocatedParams{Domain: r.query("domain"), ListParams: p})
			}},
		{Method: "POST", Path: "/relocated", Summary: "mark an address (or @domain) as moved: RCPT gets 551 5.1.6 User has moved to NEW_LOCATION (Postfix relocated(5))",
			Status: created, Errors: write, Body: admin.RelocatedInput{}, Response: admin.RelocatedView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.RelocatedInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.CreateRelocated(ctx, ac, in)
			}},
		{Method: "GET", Path: "/relocated/{address}", Summary: "show a relocated address", Status: ok, Errors: []int{404},
			Response: admin.RelocatedView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.Relocated(ctx, ac, r.param("address"))
			}},
		{Method: "PATCH", Path: "/relocated/{address}", Summary: "change where a relocated address's user has moved to",
			Status: ok, Errors: write, Body: admin.RelocatedInput{}, Response: admin.RelocatedView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.RelocatedInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.UpdateRelocated(ctx, ac, r.param("address"), in)
			}},
		{Method: "DELETE", Path: "/relocated/{address}", Summary: "delete a relocated entry: the address takes mail again", Status: http.StatusNoContent,
			Errors: []int{404}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.DeleteRelocated(ctx, ac, r.param("address"))
			}},
	}
}
