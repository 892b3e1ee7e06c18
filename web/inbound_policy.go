package web

import (
	"net/http"

	"mailhost/admin"
)

// inboundPolicyEdit shows a domain's inbound policy form.
func (h *Handler) inboundPolicyEdit(w http.ResponseWriter, r *http.Request) {
	p, err := h.svc.InboundPolicy(r.Context(), current(r).Actor, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("dmarc", p.DMARC)
	f.Values.Set("spf_fail", p.SPFFail)
	if p.RejectSpoofed {
		f.Values.Set("reject_spoofed", "on")
	}
	h.renderInboundPolicy(w, r, http.StatusOK, f, p)
}

func (h *Handler) inboundPolicyUpdate(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	p, err := h.svc.InboundPolicy(ctx, a, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r)
	_, err = h.svc.SetInboundPolicy(ctx, a, p.Domain, admin.InboundPolicyInput{
		DMARC: f.str("dmarc"), SPFFail: f.str("spf_fail"), RejectSpoofed: f.checkbox("reject_spoofed")})
	if !f.fail(err) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, withDone("/domains/"+p.Domain, "saved"))
		return
	}
	h.renderInboundPolicy(w, r, f.Status(), f, p)
}

func (h *Handler) renderInboundPolicy(w http.ResponseWriter, r *http.Request, status int, f *form, p admin.InboundPolicyView) {
	h.render(w, r, status, "inbound_policy.html", &view{Title: "Sender checks for " + p.Domain, Nav: "domains", Form: f, D: p})
}
