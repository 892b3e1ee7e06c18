package admin

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailhost/auth"
	"mailhost/store"
)

// App passwords: a mailbox owner (or an admin of its domain) makes a
// random password per mail client, limited to some protocols, revocable
// on its own. An owner with a second factor logs in to the mail
// protocols with app passwords only (auth). The secret is shown once, in
// the answer to its creation; only its SHA-256 is stored.

// AppPasswordInput is the body of an app password create.
type AppPasswordInput struct {
	Name      *string  `json:"name"`
	Protocols []string `json:"protocols"` // smtp, imap, pop3, managesieve
}

// AppPasswordView is an app password as the faces show it; Password is
// set only in the answer to its creation.
type AppPasswordView struct {
	ID           int64      `json:"id"`
	Address      string     `json:"address"`
	Name         string     `json:"name"`
	Protocols    []string   `json:"protocols"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	LastUsedFrom *string    `json:"last_used_from"`
	Password     string     `json:"password,omitempty"`
}

func appPasswordView(p store.AppPassword) AppPasswordView {
	return AppPasswordView{ID: p.ID, Address: p.Address, Name: p.Name, Protocols: p.Protocols,
		CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt, LastUsedFrom: p.LastUsedFrom}
}

// MaxAppPasswords bounds the app passwords of one mailbox.
const MaxAppPasswords = 50

// AppPasswords lists a mailbox's app passwords (the admins of its domain).
func (s *Service) AppPasswords(ctx context.Context, a Actor, addr string) (List[AppPasswordView], error) {
	tx := s.st.Read()
	m, err := s.mailboxFor(ctx, tx, a, addr, false)
	if err != nil {
		return List[AppPasswordView]{}, err
	}
	rows, err := tx.AppPasswords(ctx, m.ID)
	if err != nil {
		return List[AppPasswordView]{}, err
	}
	out := List[AppPasswordView]{Items: make([]AppPasswordView, 0, len(rows))}
	for _, r := range rows {
		out.Items = append(out.Items, appPasswordView(r))
	}
	return out, nil
}

// CreateAppPassword makes an app password for a mailbox and returns it
// with its secret, shown this once.
func (s *Service) CreateAppPassword(ctx context.Context, a Actor, addr string, in AppPasswordInput) (AppPasswordView, error) {
	var f fields
	name := ""
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
	}
	switch {
	case name == "":
		f.add("name", "is required")
	case len(name) > 100:
		f.add("name", "is longer than 100 characters")
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		f.add("name", "has control characters")
	}
	protos := make([]string, 0, len(in.Protocols))
	for i, p := range in.Protocols {
		p = strings.ToLower(strings.TrimSpace(p))
		if !slices.Contains(auth.AppProtocols, p) {
			f.add("protocols["+strconv.Itoa(i)+"]", "is not one of %s", strings.Join(auth.AppProtocols, ", "))
		} else if !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	if len(in.Protocols) == 0 {
		f.add("protocols", "name at least one of %s", strings.Join(auth.AppProtocols, ", "))
	}
	if err := f.err(); err != nil {
		return AppPasswordView{}, err
	}
	secret := auth.NewAppPassword()
	hash, _ := auth.AppPasswordHash(secret)
	var out store.AppPassword
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		have, err := tx.AppPasswords(ctx, m.ID)
		if err != nil {
			return err
		}
		if len(have) >= MaxAppPasswords {
			return newErr(LimitReached, "a mailbox has at most %d app passwords; revoke one first", MaxAppPasswords)
		}
		out, err = tx.InsertAppPassword(ctx, m.ID, name, hash, protos)
		if err != nil {
			return conflict(err, "the mailbox has an app password named %q already", name)
		}
		_, d, _ := strings.Cut(m.Address, "@")
		return s.audit(ctx, tx, a, "create", "app_password", m.Address+" "+name, d, nil, appPasswordView(out))
	})
	if err != nil {
		return AppPasswordView{}, err
	}
	v := appPasswordView(out)
	v.Password = secret
	return v, nil
}

// RevokeAppPassword removes a mailbox's app password by id: the clients
// using it are refused from their next login.
func (s *Service) RevokeAppPassword(ctx context.Context, a Actor, addr, id string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return newErr(NotFound, "no app password %s", id)
	}
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, false)
		if err != nil {
			return err
		}
		p, err := tx.AppPasswordByID(ctx, n)
		if err == nil && p.MailboxID != m.ID {
			err = store.ErrNotFound
		}
		if err != nil {
			return notFound(err, "no app password %s", id)
		}
		if err := tx.DeleteAppPassword(ctx, n); err != nil {
			return err
		}
		_, d, _ := strings.Cut(m.Address, "@")
		return s.audit(ctx, tx, a, "revoke", "app_password", m.Address+" "+p.Name, d, appPasswordView(p), nil)
	})
}

// OwnAppPasswords lists the owner's app passwords.
func (s *Service) OwnAppPasswords(ctx context.Context, o Owner) (List[AppPasswordView], error) {
	return s.AppPasswords(ctx, o.actor, o.Address)
}

// CreateOwnAppPassword makes an app password for the owner's mailbox.
func (s *Service) CreateOwnAppPassword(ctx context.Context, o Owner, in AppPasswordInput) (AppPasswordView, error) {
	return s.CreateAppPassword(ctx, o.actor, o.Address, in)
}

// RevokeOwnAppPassword revokes one of the owner's app passwords.
func (s *Service) RevokeOwnAppPassword(ctx context.Context, o Owner, id string) error {
	return s.RevokeAppPassword(ctx, o.actor, o.Address, id)
}
