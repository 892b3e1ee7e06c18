package admin

import (
	"context"
	"time"

	"mailhost/store"
)

// A domain's inbound policy says what the MX does with the sender
// authentication results (SPF, DKIM, DMARC) of mail for it: honour the
// sender domain's DMARC policy or only mark, refuse an SPF fail or only
// mark, refuse spoofing of the domain itself. The domain's admins set it.

// InboundPolicyInput changes a domain's inbound policy; fields left out
// keep their value.
type InboundPolicyInput struct {
	DMARC         *string `json:"dmarc"`          // enforce or mark
	SPFFail       *string `json:"spf_fail"`       // reject or mark
	RejectSpoofed *bool   `json:"reject_spoofed"` // refuse unauthenticated mail from this domain
}

// InboundPolicyView is a domain's inbound policy as the faces show it.
type InboundPolicyView struct {
	Domain        string     `json:"domain"`
	DMARC         string     `json:"dmarc"`
	SPFFail       string     `json:"spf_fail"`
	RejectSpoofed bool       `json:"reject_spoofed"`
	Default       bool       `json:"default"`    // never set: the defaults
	UpdatedAt     *time.Time `json:"updated_at"` // nil while Default
}

func inboundView(domain string, p store.InboundPolicy) InboundPolicyView {
	return InboundPolicyView{Domain: domain, DMARC: p.DMARC, SPFFail: p.SPFFail, RejectSpoofed: p.RejectSpoofed,
		Default: p.UpdatedAt == nil, UpdatedAt: p.UpdatedAt}
}

// InboundPolicy returns a domain's inbound policy.
func (s *Service) InboundPolicy(ctx context.Context, a Actor, domain string) (InboundPolicyView, error) {
	tx := s.st.Read()
	d, err := s.domainFor(ctx, tx, a, domain, false)
	if err != nil {
		return InboundPolicyView{}, err
	}
	p, err := tx.InboundPolicy(ctx, d.ID)
	if err != nil {
		return InboundPolicyView{}, err
	}
	return inboundView(d.Name, p), nil
}

// SetInboundPolicy changes a domain's inbound policy, with its audit row.
func (s *Service) SetInboundPolicy(ctx context.Context, a Actor, domain string, in InboundPolicyInput) (InboundPolicyView, error) {
	var f fields
	if in.DMARC != nil && *in.DMARC != "enforce" && *in.DMARC != "mark" {
		f.add("dmarc", "must be enforce or mark")
	}
	if in.SPFFail != nil && *in.SPFFail != "reject" && *in.SPFFail != "mark" {
		f.add("spf_fail", "must be reject or mark")
	}
	if err := f.err(); err != nil {
		return InboundPolicyView{}, err
	}
	var out InboundPolicyView
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := s.domainFor(ctx, tx, a, domain, true)
		if err != nil {
			return err
		}
		before, err := tx.InboundPolicy(ctx, d.ID)
		if err != nil {
			return err
		}
		p := before
		if in.DMARC != nil {
			p.DMARC = *in.DMARC
		}
		if in.SPFFail != nil {
			p.SPFFail = *in.SPFFail
		}
		if in.RejectSpoofed != nil {
			p.RejectSpoofed = *in.RejectSpoofed
		}
		after, err := tx.SetInboundPolicy(ctx, d.ID, p)
		if err != nil {
			return err
		}
		out = inboundView(d.Name, after)
		return s.audit(ctx, tx, a, "update", "inbound_policy", d.Name, d.Name, inboundView(d.Name, before), out)
	})
	if err != nil {
		return InboundPolicyView{}, err
	}
	return out, nil
}
