package api

import (
	"context"
	"net/http"

	"mailhost/admin"
)

// secondFactorRoutes are the routes of app passwords, second factors and
// the security policy. Enrolling a second factor is the panel's alone
// (it protects the panel); the API shows its state and resets it.
func (a *API) secondFactorRoutes() []route {
	s := a.svc
	ok, created, none := http.StatusOK, http.StatusCreated, http.StatusNoContent
	return []route{
		{Method: "GET", Path: "/mailboxes/{address}/app-passwords", Summary: "list a mailbox's app passwords, with their last use", Status: ok,
			Errors: []int{404}, Response: admin.List[admin.AppPasswordView]{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.AppPasswords(ctx, ac, r.param("address"))
			}},
		{Method: "POST", Path: "/mailboxes/{address}/app-passwords", Summary: "create an app password for some of smtp, imap, pop3, managesieve; the password is in this answer only",
			Status: created, Errors: []int{400, 404, 409, 413, 422}, Body: admin.AppPasswordInput{}, Response: admin.AppPasswordView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.AppPasswordInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.CreateAppPassword(ctx, ac, r.param("address"), in)
			}},
		{Method: "DELETE", Path: "/mailboxes/{address}/app-passwords/{id}", Summary: "revoke an app password", Status: none, Errors: []int{404},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.RevokeAppPassword(ctx, ac, r.param("address"), r.param("id"))
			}},
		{Method: "GET", Path: "/mailboxes/{address}/totp", Summary: "show whether a mailbox's owner has a second factor", Status: ok,
			Errors: []int{404}, Response: admin.SecondFactorView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.MailboxSecondFactor(ctx, ac, r.param("address"))
			}},
		{Method: "DELETE", Path: "/mailboxes/{address}/totp", Summary: "reset a mailbox owner's second factor (it logs in with its password alone until it enrols again)",
			Status: none, Errors: []int{404},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.ResetMailboxTOTP(ctx, ac, r.param("address"))
			}},
		{Method: "GET", Path: "/admins/{username}/totp", Summary: "show whether an admin has a second factor (a domain admin: only itself)", Status: ok,
			Errors: []int{404}, Response: admin.SecondFactorView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.AdminSecondFactor(ctx, ac, r.param("username"))
			}},
		{Method: "DELETE", Path: "/admins/{username}/totp", Summary: "reset an admin's second factor (super-admin)", Status: none,
			Errors: []int{403, 404},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return noContent{}, s.ResetAdminTOTP(ctx, ac, r.param("username"))
			}},
		{Method: "GET", Path: "/security-policy", Summary: "show the security policy (super-admin)", Status: ok, Errors: []int{403},
			Response: admin.SecurityPolicyView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.SecurityPolicy(ctx, ac)
			}},
		{Method: "PATCH", Path: "/security-policy", Summary: "change the security policy (super-admin): require_admin_totp sends admins without a second factor to enrol one",
			Status: ok, Errors: []int{400, 403, 413, 422}, Body: admin.SecurityPolicyInput{}, Response: admin.SecurityPolicyView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.SecurityPolicyInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.SetSecurityPolicy(ctx, ac, in)
			}},
	}
}
