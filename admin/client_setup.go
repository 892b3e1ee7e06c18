package admin

import (
	"context"
	"errors"

	"mailhost/address"
	"mailhost/store"
)

// ServesMail reports whether mail for domain is hosted here: an active
// local domain, or an active alias domain of one. Mail clients' automatic
// configuration (Thunderbird autoconfig, Outlook Autodiscover) asks it
// without a login, so it answers nothing but yes or no; a name that is
// not a valid domain is a no.
func (s *Service) ServesMail(ctx context.Context, domain string) (bool, error) {
	name, err := address.Domain(domain)
	if err != nil {
		return false, nil
	}
	tx := s.st.Read()
	d, err := tx.DomainByName(ctx, name, false)
	if err == nil {
		return d.Active && d.Kind == "local", nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	ad, err := tx.AliasDomainByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !ad.Active {
		return false, nil
	}
	return s.ServesMail(ctx, ad.TargetDomain)
}
