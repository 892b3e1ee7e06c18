package admin

import (
	"context"

	"mailhost/store"
)

// QuotaWarningView is a domain's quota warning text; "" means the
// built-in one. %ADDRESS%, %PERCENT%, %USED% and %QUOTA% are replaced.
type QuotaWarningView struct {
	Domain string `json:"domain"`
	Text   string `json:"text"`
}

// MaxQuotaWarningText bounds the text.
const MaxQuotaWarningText = 8 << 10

// QuotaWarningText returns a domain's quota warning text.
func (s *Service) QuotaWarningText(ctx context.Context, a Actor, domain string) (QuotaWarningView, error) {
	tx := s.st.Read()
	d, err := s.domainSieveFor(ctx, tx, a, domain, false)
	if err != nil {
		return QuotaWarningView{}, err
	}
	text, err := tx.QuotaWarningText(ctx, d.ID)
	return QuotaWarningView{Domain: d.Name, Text: text}, err
}

// SetQuotaWarningText sets a domain's quota warning text ("" for the
// built-in one); its admins may.
func (s *Service) SetQuotaWarningText(ctx context.Context, a Actor, domain string, in QuotaWarningView) (QuotaWarningView, error) {
	if len(in.Text) > MaxQuotaWarningText {
		return QuotaWarningView{}, invalid("text", "is longer than %d bytes", MaxQuotaWarningText)
	}
	var out QuotaWarningView
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := s.domainSieveFor(ctx, tx, a, domain, true)
		if err != nil {
			return err
		}
		old, err := tx.QuotaWarningText(ctx, d.ID)
		if err != nil {
			return err
		}
		if err := tx.SetQuotaWarningText(ctx, d.ID, in.Text); err != nil {
			return err
		}
		out = QuotaWarningView{Domain: d.Name, Text: in.Text}
		return s.audit(ctx, tx, a, "set", "quota_warning", d.Name, d.Name, QuotaWarningView{Domain: d.Name, Text: old}, out)
	})
	return out, err
}
