package web

import (
	"net/http"

	"mailhost/admin"
)

// domainDNS shows the records a domain needs as zone-file lines and, with
// ?check=1, what DNS answers for each (the admin service decides who may
// see it: super-admins and the domain's admins).
func (h *Handler) domainDNS(w http.ResponseWriter, r *http.Request) {
	check := r.URL.Query().Get("check") == "1"
	page, err := h.svc.DomainDNS(r.Context(), current(r).Actor, param(r, "domain"), check)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "domain_dns.html", &view{Title: "DNS records of " + page.Domain, Nav: "domains",
		D: dnsPage{DNSPage: page, NotOK: dnsNotOK(page)}})
}

type dnsPage struct {
	admin.DNSPage
	NotOK int // checked records not as expected
}

// dnsNotOK counts the checked records that are not as expected.
func dnsNotOK(p admin.DNSPage) int {
	n := 0
	for _, r := range p.Records {
		if r.Check != nil && r.Check.Verdict != admin.VerdictOK {
			n++
		}
	}
	return n
}
