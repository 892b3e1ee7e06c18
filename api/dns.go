package api

import (
	"context"
	"net/http"

	"mailhost/admin"
)

// dnsRoutes are a domain's DNS records and DKIM keys (super-admins and
// the domain's admins; the admin service decides). No answer carries a
// private key.
func (a *API) dnsRoutes() []route {
	s := a.svc
	return []route{
		{Method: "GET", Path: "/domains/{domain}/dns", Summary: "the DNS records a domain needs (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, SRV, autoconfig) as zone-file lines; check=true looks each up and gives the verdict ok, missing, wrong or error (mailhost dns)",
			Status: http.StatusOK, Errors: []int{404, 422, 503},
			Query:    []queryParam{{"check", "boolean", "look the records up in DNS"}},
			Response: admin.DNSPage{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				check, err := r.flag("check")
				if err != nil {
					return nil, err
				}
				return s.DomainDNS(ctx, ac, r.param("domain"), check)
			}},
		{Method: "GET", Path: "/domains/{domain}/dkim", Summary: "a domain's DKIM keys (public parts) with their TXT records (mailhost dkim list)",
			Status: http.StatusOK, Errors: []int{404, 422},
			Response: []admin.DKIMKeyView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.DKIMKeys(ctx, ac, r.param("domain"))
			}},
		{Method: "POST", Path: "/domains/{domain}/dkim/rotate", Summary: "make a domain's next DKIM keys; they sign once their TXT records are seen in DNS, the old ones stay published for dkim.grace_period (mailhost dkim rotate)",
			Status: http.StatusCreated, Errors: []int{404, 409, 422},
			Response: []admin.DKIMKeyView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.RotateDKIM(ctx, ac, r.param("domain"))
			}},
	}
}
