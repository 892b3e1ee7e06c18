package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"mailhost/static"
)

// routes lists every route of the panel. Every state-changing request
// (POST) passes http.CrossOriginProtection, which refuses requests that a
// browser marks as coming from another origin (Sec-Fetch-Site, Origin);
// the session cookie is SameSite=Strict besides.
func (h *Handler) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders, h.forwardedProto)
	r.NotFound(h.notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, http.StatusMethodNotAllowed, "Method not allowed", "This page does not take that request.")
	})
	r.Handle(static.Prefix+"*", h.static)
	// Mail clients' automatic configuration (autoconfig.go): no session.
	r.Get("/.well-known/autoconfig/mail/config-v1.1.xml", h.autoconfig)
	r.Get("/mail/config-v1.1.xml", h.autoconfig)
	r.Post("/autodiscover/autodiscover.xml", h.autodiscover)
	r.Post("/Autodiscover/Autodiscover.xml", h.autodiscover)

	r.Group(func(r chi.Router) {
		r.Use(h.csrf, h.loadSession, h.textInput)
		r.With(h.secondFactorDue).Get("/", h.home)
		r.Get("/login", h.loginPage)
		r.Post("/login", h.login)
		r.Get("/login/code", h.loginCodePage) // second_factor.go
		r.Post("/login/code", h.loginCode)
		r.Post("/logout", h.logout)
		r.Get("/setup", h.setupPage)
		r.Post("/setup", h.setup)

		// An admin's own second factor: reachable while the policy
		// sends it here to enrol.
		r.Group(func(r chi.Router) {
			r.Use(h.requireAdmin)
			r.Get("/account/totp", h.totpPage)
			r.Post("/account/totp", h.totpConfirm)
			r.Post("/account/totp/disable", h.totpDisable)
			r.Get("/account/totp/recovery-codes", h.newCodesPage)
			r.Post("/account/totp/recovery-codes", h.totpRecoveryCodes)
		})

		// Admins (super-admins and domain admins); what each may see and
		// change is decided by the admin service.
		r.Group(func(r chi.Router) {
			r.Use(h.requireAdmin, h.secondFactorDue)
			r.Get("/domains", h.domainList)
			r.Get("/domains/new", h.domainNew)
			r.Post("/domains/new", h.domainCreate)
			r.Get("/domains/{domain}", h.domainShow)
			r.Get("/domains/{domain}/dns", h.domainDNS)
			r.Get("/domains/{domain}/edit", h.domainEdit)
			r.Post("/domains/{domain}/edit", h.domainUpdate)
			r.Post("/domains/{domain}/active", h.domainActive)
			r.Get("/domains/{domain}/delete", h.domainDeleteConfirm)
			r.Get("/domains/{domain}/inbound-policy", h.inboundPolicyEdit) // inbound_policy.go
			r.Post("/domains/{domain}/inbound-policy", h.inboundPolicyUpdate)
			r.Post("/domains/{domain}/delete", h.domainDelete)
			r.Get("/domains/{domain}/content-filter", h.contentFilterShow) // content_filter.go
			r.Post("/domains/{domain}/content-filter", h.contentFilterUpdate)
			r.Get("/domains/{domain}/sieve", h.domainSieveList) // domain_sieve.go
			r.Get("/domains/{domain}/sieve/new", h.domainSieveNew)
			r.Post("/domains/{domain}/sieve/new", h.domainSieveSave)
			r.Get("/domains/{domain}/sieve/{name}", h.domainSieveEdit)
			r.Post("/domains/{domain}/sieve/{name}", h.domainSieveSave)
			r.Get("/domains/{domain}/sieve/{name}/delete", h.domainSieveDeleteConfirm)
			r.Post("/domains/{domain}/sieve/{name}/delete", h.domainSieveDelete)

			r.Get("/domains/{domain}/mailboxes", h.mailboxList)
			r.Get("/domains/{domain}/mailboxes/new", h.mailboxNew)
			r.Post("/domains/{domain}/mailboxes/new", h.mailboxCreate)
			r.Get("/mailboxes/{address}", h.mailboxEdit)
			r.Post("/mailboxes/{address}", h.mailboxUpdate)
			r.Post("/mailboxes/{address}/active", h.mailboxActive)
			r.Get("/mailboxes/{address}/delete", h.mailboxDeleteConfirm)
			r.Post("/mailboxes/{address}/delete", h.mailboxDelete)
			r.Get("/mailboxes/{address}/forwarding", h.withOps(h.forwardingPage))
			r.Post("/mailboxes/{address}/forwarding", h.withOps(h.forwardingSet))
			r.Get("/mailboxes/{address}/forwarding/delete", h.withOps(h.forwardingDeleteConfirm))
			r.Post("/mailboxes/{address}/forwarding/delete", h.withOps(h.forwardingDelete))
			r.Get("/mailboxes/{address}/vacation", h.withOps(h.vacationPage))
			r.Post("/mailboxes/{address}/vacation", h.withOps(h.vacationSet))
			r.Get("/mailboxes/{address}/vacation/delete", h.withOps(h.vacationDeleteConfirm))
			r.Post("/mailboxes/{address}/vacation/delete", h.withOps(h.vacationDelete))
			r.Get("/mailboxes/{address}/app-passwords", h.appPasswordList) // app_passwords.go
			r.Post("/mailboxes/{address}/app-passwords", h.appPasswordCreate)
			r.Post("/mailboxes/{address}/app-passwords/{id}/revoke", h.appPasswordRevoke)
			r.Get("/mailboxes/{address}/totp", h.totpResetPage(h.mailboxTOTP())) // second_factor.go
			r.Post("/mailboxes/{address}/totp/reset", h.totpReset(h.mailboxTOTP()))

			r.Get("/domains/{domain}/aliases", h.aliasList)
			r.Get("/domains/{domain}/aliases/new", h.aliasNew)
			r.Post("/domains/{domain}/aliases/new", h.aliasCreate)
			r.Get("/aliases/{address}", h.aliasEdit)
			r.Post("/aliases/{address}", h.aliasUpdate)
			r.Post("/aliases/{address}/active", h.aliasActive)
			r.Get("/aliases/{address}/delete", h.aliasDeleteConfirm)
			r.Post("/aliases/{address}/delete", h.aliasDelete)

			r.Get("/alias-domains", h.aliasDomainList)
			r.Get("/alias-domains/new", h.aliasDomainNew)
			r.Post("/alias-domains/new", h.aliasDomainCreate)
			r.Get("/alias-domains/{name}/delete", h.aliasDomainDeleteConfirm)
			r.Post("/alias-domains/{name}/delete", h.aliasDomainDelete)

			// The SMTP server's policy tables (access.go, relocated.go).
			r.Get("/access", h.accessList)
			r.Get("/access/new", h.accessNew)
			r.Post("/access/new", h.accessCreate)
			r.Get("/access/{id}", h.accessEdit)
			r.Post("/access/{id}", h.accessUpdate)
			r.Get("/access/{id}/delete", h.accessDeleteConfirm)
			r.Post("/access/{id}/delete", h.accessDelete)
			r.Get("/relocated", h.relocatedList)
			r.Get("/relocated/new", h.relocatedNew)
			r.Post("/relocated/new", h.relocatedCreate)
			r.Get("/relocated/{address}", h.relocatedEdit)
			r.Post("/relocated/{address}", h.relocatedUpdate)
			r.Get("/relocated/{address}/delete", h.relocatedDeleteConfirm)
			r.Post("/relocated/{address}/delete", h.relocatedDelete)

			r.Get("/audit", h.auditLog)
			r.Get("/maillog", h.mailLog) // charts.go
			r.Get("/account/password", h.adminPasswordPage)
			r.Post("/account/password", h.adminPassword)

			// Super-admins only (the service refuses the others: 403).
			r.Get("/admins", h.adminList)
			r.Get("/admins/new", h.adminNew)
			r.Post("/admins/new", h.adminCreate)
			r.Get("/admins/{username}", h.adminEdit)
			r.Post("/admins/{username}", h.adminUpdate)
			r.Get("/admins/{username}/delete", h.adminDeleteConfirm)
			r.Post("/admins/{username}/delete", h.adminDelete)
			r.Get("/admins/{username}/totp", h.totpResetPage(h.adminTOTP()))
			r.Post("/admins/{username}/totp/reset", h.totpReset(h.adminTOTP()))
			r.Get("/security", h.securityPage)
			r.Post("/security", h.securitySet)
			r.Get("/tokens", h.tokenList)
			r.Get("/tokens/new", h.tokenNew)
			r.Post("/tokens/new", h.tokenCreate)
			r.Get("/tokens/{id}/revoke", h.tokenRevokeConfirm)
			r.Post("/tokens/{id}/revoke", h.tokenRevoke)
			// Login blocks: 404 for everyone but super-admins.
			r.Get("/auth/blocks", h.loginBlocks)
			r.Post("/auth/blocks/unblock", h.unblock)
			// The mail queue: 404 for everyone but super-admins.
			r.Get("/queue", h.queueList)
			r.Post("/queue/flush", h.queueFlush)
			r.Get("/queue/{id}", h.queueShow)
			r.Post("/queue/{id}/flush", h.queueFlushOne)
			r.Post("/queue/{id}/hold", h.queueHold)
			r.Post("/queue/{id}/release", h.queueRelease)
			r.Get("/queue/{id}/delete", h.queueDeleteConfirm)
			r.Post("/queue/{id}/delete", h.queueDelete)
		})

		// Mailbox owners: their own mailbox only.
		r.Group(func(r chi.Router) {
			r.Use(h.requireOwner)
			r.Get("/me", h.ownerHome)
			r.Get("/me/mobileconfig", h.ownerMobileconfig) // mobileconfig.go
			r.Get("/me/password", h.ownerPasswordPage)
			r.Post("/me/password", h.ownerPassword)
			r.Get("/me/forwarding", h.withOps(h.forwardingPage))
			r.Post("/me/forwarding", h.withOps(h.forwardingSet))
			r.Get("/me/forwarding/delete", h.withOps(h.forwardingDeleteConfirm))
			r.Post("/me/forwarding/delete", h.withOps(h.forwardingDelete))
			r.Get("/me/vacation", h.withOps(h.vacationPage))
			r.Post("/me/vacation", h.withOps(h.vacationSet))
			r.Get("/me/vacation/delete", h.withOps(h.vacationDeleteConfirm))
			r.Post("/me/vacation/delete", h.withOps(h.vacationDelete))
			r.Get("/me/filters", h.filtersPage)
			r.Post("/me/filters/rules", h.filtersRules)
			r.Post("/me/filters/script", h.filtersScript)
			r.Post("/me/filters/test", h.filtersTest)
			r.Get("/me/totp", h.totpPage)
			r.Post("/me/totp", h.totpConfirm)
			r.Post("/me/totp/disable", h.totpDisable)
			r.Get("/me/totp/recovery-codes", h.newCodesPage)
			r.Post("/me/totp/recovery-codes", h.totpRecoveryCodes)
			r.Get("/me/app-passwords", h.appPasswordList)
			r.Post("/me/app-passwords", h.appPasswordCreate)
			r.Post("/me/app-passwords/{id}/revoke", h.appPasswordRevoke)
		})
	})
	return r
}

// csrf refuses cross-origin state-changing requests with a 403 page.
func (h *Handler) csrf(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "remote", remoteAddr(r))
		h.errorPage(w, r, http.StatusForbidden, "Request refused",
			"This form was sent from another site. Open the page on this site and try again.")
	}))
	return cop.Handler(next)
}

// param returns a path parameter (chi leaves it escaped).
func param(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if u, err := unescape(v); err == nil {
		return u
	}
	return v
}
