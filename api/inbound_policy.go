package api

import (
	"context"
	"net/http"

	"mailhost/admin"
)

// inboundPolicyRoutes are a domain's inbound policy: what the MX does with
// the SPF, DKIM and DMARC results of mail for it.
func (a *API) inboundPolicyRoutes() []route {
	s := a.svc
	return []route{
		{Method: "GET", Path: "/domains/{domain}/inbound-policy",
			Summary: "show a domain's inbound policy: dmarc (enforce, mark), spf_fail (reject, mark), reject_spoofed",
			Status:  http.StatusOK, Errors: []int{404}, Response: admin.InboundPolicyView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.InboundPolicy(ctx, ac, r.param("domain"))
			}},
		{Method: "PATCH", Path: "/domains/{domain}/inbound-policy",
			Summary: "change a domain's inbound policy; fields left out keep their value",
			Status:  http.StatusOK, Errors: []int{400, 404, 413, 422}, Body: admin.InboundPolicyInput{}, Response: admin.InboundPolicyView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.InboundPolicyInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.SetInboundPolicy(ctx, ac, r.param("domain"), in)
			}},
	}
}
