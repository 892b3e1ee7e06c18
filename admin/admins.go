package admin

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"mailhost/address"
	"mailhost/store"
)

// AdminInput is the body of an admin create (Username and Password
// required) or update.
type AdminInput struct {
	Username   *string   `json:"username"`
	Password   *string   `json:"password"`
	Superadmin *bool     `json:"superadmin"`
	Domains    *[]string `json:"domains"`
	Active     *bool     `json:"active"`
}

// AdminView is an admin as the faces show it (never its password hash).
type AdminView struct {
	Username   string    `json:"username"`
	Superadmin bool      `json:"superadmin"`
	Domains    []string  `json:"domains"`
	Active     bool      `json:"active"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func adminView(a store.Admin) AdminView {
	d := a.Domains
	if d == nil {
		d = []string{}
	}
	return AdminView{Username: a.Username, Superadmin: a.Superadmin, Domains: d, Active: a.Active,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// normUsername accepts a mail address or a plain name of letters, digits,
// '.', '_' and '-'; both are lower-cased.
func normUsername(in string) (string, string) {
	if strings.Contains(in, "@") {
		n, err := address.Normalize(in)
		if err != nil {
			return "", reason(err)
		}
		return n, ""
	}
	n := strings.ToLower(in)
	if !usernameRE.MatchString(n) {
		return "", "must be a mail address or a name of up to 64 letters, digits, '.', '_' and '-'"
	}
	return n, ""
}

// domainIDs resolves domain names to ids, each an error of field when unknown.
func domainIDs(ctx context.Context, tx *store.Tx, field string, names []string) ([]int64, error) {
	var f fields
	var ids []int64
	for i, n := range names {
		d, err := address.Domain(n)
		if err == nil {
			var dom store.Domain
			if dom, err = tx.DomainByName(ctx, d, false); err == nil {
				ids = append(ids, dom.ID)
				continue
			}
			if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		f.add(field+"["+itoa(i)+"]", "%s is not a domain", n)
	}
	return ids, f.err()
}

func itoa(i int) string { return strconv.Itoa(i) }

// CreateAdmin adds an admin. Only a super-admin may.
func (s *Service) CreateAdmin(ctx context.Context, a Actor, in AdminInput) (AdminView, error) {
	if err := a.MayManageAdmins(); err != nil {
		return AdminView{}, err
	}
	var f fields
	var username string
	if in.Username == nil || *in.Username == "" {
		f.add("username", "is required")
	} else if n, why := normUsername(*in.Username); why != "" {
		f.add("username", "%s", why)
	} else {
		username = n
	}
	if in.Password == nil {
		f.add("password", "is required")
	} else {
		checkPassword(&f, "password", *in.Password)
	}
	if err := f.err(); err != nil {
		return AdminView{}, err
	}
	hash, err := s.hash(*in.Password)
	if err != nil {
		return AdminView{}, err
	}
	var out store.Admin
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		ad := store.Admin{Username: username, Password: hash, Active: true}
		if in.Superadmin != nil {
			ad.Superadmin = *in.Superadmin
		}
		if in.Active != nil {
			ad.Active = *in.Active
		}
		if in.Domains != nil {
			ids, err := domainIDs(ctx, tx, "domains", *in.Domains)
			if err != nil {
				return err
			}
			ad.DomainIDs = ids
		}
		var err error
		out, err = tx.InsertAdmin(ctx, ad)
		if err != nil {
			return conflict(err, "admin %s already exists", username)
		}
		return s.audit(ctx, tx, a, "create", "admin", username, "", nil, adminView(out))
	})
	if err != nil {
		return AdminView{}, err
	}
	return adminView(out), nil
}

// adminFor returns the admin by user name: any for a super-admin, only
// itself for another admin (others are not found).
func (s *Service) adminFor(ctx context.Context, tx *store.Tx, a Actor, username string) (store.Admin, error) {
	n, why := normUsername(username)
	if why != "" {
		return store.Admin{}, newErr(NotFound, "no admin %s", username)
	}
	ad, err := tx.AdminByUsername(ctx, n)
	if err == nil && !a.Superadmin && ad.ID != a.AdminID {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Admin{}, notFound(err, "no admin %s", username)
	}
	return ad, nil
}

// Admin returns one admin: a domain admin sees only itself.
func (s *Service) Admin(ctx context.Context, a Actor, username string) (AdminView, error) {
	ad, err := s.adminFor(ctx, s.st.Read(), a, username)
	if err != nil {
		return AdminView{}, err
	}
	return adminView(ad), nil
}

// Admins lists admins. Only a super-admin may.
func (s *Service) Admins(ctx context.Context, a Actor, p ListParams) (List[AdminView], error) {
	if !a.Superadmin {
		return List[AdminView]{}, newErr(Forbidden, "only a super-admin may list admins")
	}
	page, err := p.page()
	if err != nil {
		return List[AdminView]{}, err
	}
	page.Limit++
	rows, err := s.st.Read().ListAdmins(ctx, store.AdminFilter{Q: p.Q, Page: page})
	if err != nil {
		return List[AdminView]{}, err
	}
	return finish(rows, page.Limit-1, func(ad store.Admin) string { return ad.Username }, adminView), nil
}

// UpdateAdmin changes password, superadmin, domains or active. A domain
// admin may change only its own password.
func (s *Service) UpdateAdmin(ctx context.Context, a Actor, username string, in AdminInput) (AdminView, error) {
	var f fields
	if in.Password != nil {
		checkPassword(&f, "password", *in.Password)
	}
	if err := f.err(); err != nil {
		return AdminView{}, err
	}
	if !a.Superadmin && (in.Superadmin != nil || in.Domains != nil || in.Active != nil) {
		// Checked again below for existence; a domain admin can only reach itself.
		if _, err := s.adminFor(ctx, s.st.Read(), a, username); err != nil {
			return AdminView{}, err
		}
		return AdminView{}, newErr(Forbidden, "only a super-admin may change an admin's rights or active flag")
	}
	hash := ""
	if in.Password != nil {
		var err error
		if hash, err = s.hash(*in.Password); err != nil {
			return AdminView{}, err
		}
	}
	var out store.Admin
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		ad, err := s.adminFor(ctx, tx, a, username)
		if err != nil {
			return err
		}
		if in.Username != nil {
			if n, why := normUsername(*in.Username); why != "" || n != ad.Username {
				return invalid("username", "an admin cannot be renamed")
			}
		}
		old := ad
		if hash != "" {
			ad.Password = hash
		}
		if in.Superadmin != nil {
			ad.Superadmin = *in.Superadmin
		}
		if in.Active != nil {
			ad.Active = *in.Active
		}
		if in.Domains != nil {
			if ad.DomainIDs, err = domainIDs(ctx, tx, "domains", *in.Domains); err != nil {
				return err
			}
		}
		if old.Superadmin && old.Active && !(ad.Superadmin && ad.Active) {
			if err := lastSuper(ctx, tx); err != nil {
				return err
			}
		}
		out, err = tx.UpdateAdmin(ctx, ad)
		if err != nil {
			return err
		}
		if hash != "" { // a new password ends the admin's panel sessions
			if _, err := tx.EndWebSessions(ctx, store.Principal{AdminID: ad.ID}); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, a, "update", "admin", ad.Username, "", adminView(old), adminView(out))
	})
	if err != nil {
		return AdminView{}, err
	}
	return adminView(out), nil
}

func lastSuper(ctx context.Context, tx *store.Tx) error {
	n, err := tx.CountActiveSuperadmins(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return newErr(Conflict, "this is the last active super-admin")
	}
	return nil
}

// DeleteAdmin removes an admin and its tokens. Only a super-admin may; the
// last active super-admin stays.
func (s *Service) DeleteAdmin(ctx context.Context, a Actor, username string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		ad, err := s.adminFor(ctx, tx, a, username)
		if err != nil {
			return err
		}
		if !a.Superadmin {
			return newErr(Forbidden, "only a super-admin may delete admins")
		}
		if ad.Superadmin && ad.Active {
			if err := lastSuper(ctx, tx); err != nil {
				return err
			}
		}
		if err := tx.DeleteAdmin(ctx, ad.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "delete", "admin", ad.Username, "", adminView(ad), nil)
	})
}
