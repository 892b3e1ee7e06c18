package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mailhost/address"
	"mailhost/maildir"
	"mailhost/store"
)

// Password length limits for passwords people choose.
const (
	MinPasswordLen       = 8
	MaxPasswordLen       = 256
	GeneratedPasswordLen = 20
)

// MailboxInput is the body of a mailbox create (LocalPart required) or
// update (only the fields given change).
type MailboxInput struct {
	LocalPart  *string `json:"local_part"`
	Name       *string `json:"name"`
	Password   *string `json:"password"`
	QuotaBytes *int64  `json:"quota_bytes"`
	Active     *bool   `json:"active"`
}

// MailboxView is a mailbox as the faces show it; Password is set only in
// the answer to a create that generated it.
type MailboxView struct {
	Address      string    `json:"address"`
	LocalPart    string    `json:"local_part"`
	Domain       string    `json:"domain"`
	Name         string    `json:"name"`
	QuotaBytes   int64     `json:"quota_bytes"`
	UsedBytes    int64     `json:"used_bytes"`
	UsedMessages int64     `json:"used_messages"`
	Active       bool      `json:"active"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Password     string    `json:"password,omitempty"`
}

func mailboxView(m store.Mailbox) MailboxView {
	_, dom := address.Split(m.Address)
	return MailboxView{
		Address: m.Address, LocalPart: m.LocalPart, Domain: dom, Name: m.Name, QuotaBytes: m.QuotaBytes,
		UsedBytes: m.UsedBytes, UsedMessages: m.UsedMessages, Active: m.Active,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
}

// GeneratePassword returns n random characters from an alphabet without
// look-alikes (no 0/O, 1/l/I).
func GeneratePassword(n int) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	for i := range b {
		var r [1]byte
		for {
			rand.Read(r[:])
			if int(r[0]) < 256-256%len(alphabet) { // no modulo bias
				break
			}
		}
		b[i] = alphabet[int(r[0])%len(alphabet)]
	}
	return string(b)
}

func checkPassword(f *fields, field, pw string) {
	switch {
	case !utf8.ValidString(pw) || strings.ContainsAny(pw, "\x00\r\n"):
		f.add(field, "must be valid UTF-8 without NUL or line breaks")
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		f.add(field, "must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		f.add(field, "must be at most %d bytes", MaxPasswordLen)
	}
}

func (s *Service) hash(pw string) (string, error) {
	h, err := s.opts.Hasher.Hash(pw)
	if err != nil {
		return "", fmt.Errorf("admin: hash password: %w", err)
	}
	return h, nil
}

func checkMailboxLocal(f *fields, in string) string {
	l, err := address.LocalPart(in)
	if err != nil {
		f.add("local_part", "%s", err.(*address.Error).Reason)
		return ""
	}
	if strings.HasPrefix(l, `"`) || maildir.ValidateLocalPart(l) != nil {
		f.add("local_part", "a mailbox's local part must be a dot-atom without '/' (letters, digits, .!#$%%&'*+-=?^_`{|}~)")
		return ""
	}
	return l
}

// checkQuota returns the quota for a mailbox of domain d: the given one
// or, when nil, the domain's per-mailbox maximum.
func checkQuota(f *fields, q *int64, d store.Domain) int64 {
	if q == nil {
		if d.MaxQuotaBytes == 0 && d.QuotaBytes > 0 {
			f.add("quota_bytes", "is required: the domain has a total quota and no per-mailbox maximum to default to")
		}
		return d.MaxQuotaBytes
	}
	switch {
	case *q < 0 || *q > MaxQuota:
		f.add("quota_bytes", "must be from 0 (unlimited) to %d bytes", int64(MaxQuota))
	case d.MaxQuotaBytes > 0 && (*q == 0 || *q > d.MaxQuotaBytes):
		f.add("quota_bytes", "must be from 1 to the domain's maximum of %d bytes", d.MaxQuotaBytes)
	case d.QuotaBytes > 0 && *q == 0:
		f.add("quota_bytes", "must be set: the domain has a total quota")
	}
	return *q
}

// CreateMailbox adds a mailbox to a domain: its row, its folder rows and
// its Maildir (owned by vmail), all or nothing. Without a password it
// generates one and returns it once, in the view's Password.
func (s *Service) CreateMailbox(ctx context.Context, a Actor, domain string, in MailboxInput) (MailboxView, error) {
	var f fields
	local := ""
	if in.LocalPart == nil || *in.LocalPart == "" {
		f.add("local_part", "is required")
	} else {
		local = checkMailboxLocal(&f, *in.LocalPart)
	}
	if in.Name != nil && len(*in.Name) > 255 {
		f.add("name", "is longer than 255 characters")
	}
	generated := ""
	pw := ""
	if in.Password != nil {
		pw = *in.Password
		checkPassword(&f, "password", pw)
	} else {
		generated = GeneratePassword(GeneratedPasswordLen)
		pw = generated
	}
	if in.QuotaBytes != nil && (*in.QuotaBytes < 0 || *in.QuotaBytes > MaxQuota) {
		f.add("quota_bytes", "must be from 0 (unlimited) to %d bytes", int64(MaxQuota))
	}
	if err := f.err(); err != nil {
		return MailboxView{}, err
	}
	hash, err := s.hash(pw) // slow on purpose: before the transaction, which holds the domain lock
	if err != nil {
		return MailboxView{}, err
	}
	var out store.Mailbox
	var cleanup func()
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := s.domainFor(ctx, tx, a, domain, true) // the lock serialises the limit checks
		if err != nil {
			return err
		}
		if d.Kind != "local" {
			return newErr(Conflict, "domain %s is a relay domain; it holds no mailboxes", d.Name)
		}
		var f fields
		quota := checkQuota(&f, in.QuotaBytes, d)
		addr := local + "@" + d.Name
		if len(addr) > address.MaxPathLen {
			f.add("local_part", "makes the address longer than %d octets", address.MaxPathLen)
		}
		if err := f.err(); err != nil {
			return err
		}
		u, err := tx.DomainUsage(ctx, d.ID)
		if err != nil {
			return err
		}
		if d.MaxMailboxes > 0 && u.Mailboxes >= int64(d.MaxMailboxes) {
			return newErr(LimitReached, "domain %s has reached its limit of %d mailboxes", d.Name, d.MaxMailboxes)
		}
		if d.QuotaBytes > 0 && u.QuotaAllocated+quota > d.QuotaBytes {
			return newErr(LimitReached, "domain %s's total quota of %d bytes has %d bytes left, less than %d",
				d.Name, d.QuotaBytes, max(d.QuotaBytes-u.QuotaAllocated, 0), quota)
		}
		m := store.Mailbox{DomainID: d.ID, LocalPart: local, Address: addr, Password: hash, QuotaBytes: quota,
			Maildir: d.Name + "/" + local + "/", Active: true}
		if in.Name != nil {
			m.Name = *in.Name
		}
		if in.Active != nil {
			m.Active = *in.Active
		}
		var folders []store.NewFolder
		for _, sf := range maildir.StandardFolders() {
			folders = append(folders, store.NewFolder{Name: sf.Name, SpecialUse: sf.SpecialUse})
		}
		out, err = tx.InsertMailbox(ctx, m, folders)
		if err != nil {
			return conflict(err, "address %s is already taken by a mailbox or an alias", addr)
		}
		if err := s.audit(ctx, tx, a, "create", "mailbox", addr, d.Name, nil, mailboxView(out)); err != nil {
			return err
		}
		// The Maildir is made before the commit and removed again if the
		// commit fails, so a failed request leaves the root as it was.
		cleanup, err = s.createMaildir(d.Name, local)
		return err
	})
	if err != nil {
		if cleanup != nil {
			cleanup()
		}
		return MailboxView{}, err
	}
	v := mailboxView(out)
	v.Password = generated
	return v, nil
}

// createMaildir makes the Maildir tree and returns what undoes it: the
// removal of the topmost directory it created (nothing when the tree was
// already there, as when adopting an existing Maildir).
func (s *Service) createMaildir(domain, local string) (func(), error) {
	root := s.opts.MaildirRoot
	var first string
	for _, p := range []string{root, filepath.Join(root, domain), filepath.Join(root, domain, local)} {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			first = p
			break
		}
	}
	undo := func() {
		if first != "" {
			if err := os.RemoveAll(first); err != nil {
				s.log.Error("remove maildir of failed mailbox create", "path", first, "err", err)
			}
		}
	}
	if _, err := maildir.Create(root, domain, local, s.opts.Owner); err != nil {
		undo()
		return nil, fmt.Errorf("admin: create maildir: %w", err)
	}
	return undo, nil
}

// mailboxFor returns the mailbox at addr if the actor may manage its
// domain, NotFound otherwise.
func (s *Service) mailboxFor(ctx context.Context, tx *store.Tx, a Actor, addr string, lock bool) (store.Mailbox, error) {
	n, err := address.Normalize(addr)
	if err != nil {
		return store.Mailbox{}, newErr(NotFound, "no mailbox %s", addr)
	}
	m, err := tx.MailboxByAddress(ctx, n, lock)
	if err == nil && !a.canDomain(m.DomainID) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Mailbox{}, notFound(err, "no mailbox %s", addr)
	}
	return m, nil
}

// Mailbox returns one mailbox.
func (s *Service) Mailbox(ctx context.Context, a Actor, addr string) (MailboxView, error) {
	m, err := s.mailboxFor(ctx, s.st.Read(), a, addr, false)
	if err != nil {
		return MailboxView{}, err
	}
	return mailboxView(m), nil
}

// Mailboxes lists a domain's mailboxes, filtered by q on the address and
// the display name.
func (s *Service) Mailboxes(ctx context.Context, a Actor, domain string, p ListParams) (List[MailboxView], error) {
	page, err := p.page()
	if err != nil {
		return List[MailboxView]{}, err
	}
	tx := s.st.Read()
	d, err := s.domainFor(ctx, tx, a, domain, false)
	if err != nil {
		return List[MailboxView]{}, err
	}
	page.Limit++
	rows, err := tx.ListMailboxes(ctx, store.MailboxFilter{DomainID: d.ID, Q: p.Q, Page: page})
	if err != nil {
		return List[MailboxView]{}, err
	}
	return finish(rows, page.Limit-1, func(m store.Mailbox) string { return m.Address }, mailboxView), nil
}

// UpdateMailbox changes name, password, quota or active.
func (s *Service) UpdateMailbox(ctx context.Context, a Actor, addr string, in MailboxInput) (MailboxView, error) {
	var f fields
	if in.LocalPart != nil {
		f.add("local_part", "a mailbox cannot be renamed")
	}
	if in.Name != nil && len(*in.Name) > 255 {
		f.add("name", "is longer than 255 characters")
	}
	if in.Password != nil {
		checkPassword(&f, "password", *in.Password)
	}
	if err := f.err(); err != nil {
		return MailboxView{}, err
	}
	hash := ""
	if in.Password != nil {
		var err error
		if hash, err = s.hash(*in.Password); err != nil {
			return MailboxView{}, err
		}
	}
	var out store.Mailbox
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, false)
		if err != nil {
			return err
		}
		d, err := tx.DomainByID(ctx, m.DomainID, true)
		if err != nil {
			return err
		}
		old := m
		if in.QuotaBytes != nil {
			var f fields
			q := checkQuota(&f, in.QuotaBytes, d)
			if err := f.err(); err != nil {
				return err
			}
			u, err := tx.DomainUsage(ctx, d.ID)
			if err != nil {
				return err
			}
			if d.QuotaBytes > 0 && q > m.QuotaBytes && u.QuotaAllocated-m.QuotaBytes+q > d.QuotaBytes {
				return newErr(LimitReached, "domain %s's total quota of %d bytes has %d bytes left for this mailbox",
					d.Name, d.QuotaBytes, max(d.QuotaBytes-u.QuotaAllocated+m.QuotaBytes, 0))
			}
			m.QuotaBytes = q
		}
		if in.Name != nil {
			m.Name = *in.Name
		}
		if in.Active != nil {
			m.Active = *in.Active
		}
		if hash != "" {
			m.Password = hash
		}
		out, err = tx.UpdateMailbox(ctx, m)
		if err != nil {
			return err
		}
		if hash != "" { // a new password ends the owner's panel sessions
			if _, err := tx.EndWebSessions(ctx, store.Principal{MailboxID: m.ID}); err != nil {
				return err
			}
		}
		after := mailboxView(out)
		action := "update"
		if hash != "" && in.Name == nil && in.QuotaBytes == nil && in.Active == nil {
			action = "passwd"
		}
		return s.audit(ctx, tx, a, action, "mailbox", m.Address, d.Name, mailboxView(old), after)
	})
	if err != nil {
		return MailboxView{}, err
	}
	return mailboxView(out), nil
}

// DeleteMailbox removes a mailbox. Its Maildir moves to the retention area
// and is purged after the configured days, or at once with purge.
func (s *Service) DeleteMailbox(ctx context.Context, a Actor, addr string, purge bool) error {
	var undo, after func()
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, false)
		if err != nil {
			return err
		}
		d, err := tx.DomainByID(ctx, m.DomainID, true)
		if err != nil {
			return err
		}
		undo, after, err = s.removeMailbox(ctx, tx, a, d, m, purge)
		return err
	})
	if err != nil {
		if undo != nil {
			undo()
		}
		return err
	}
	if after != nil {
		after()
	}
	return nil
}

// removeMailbox deletes the mailbox row, moves its Maildir to the
// retention area and records it there (or, with purge, removes the files
// after the commit: the after func). undo moves the Maildir back when the
// transaction fails.
func (s *Service) removeMailbox(ctx context.Context, tx *store.Tx, a Actor, d store.Domain, m store.Mailbox, purge bool) (undo, after func(), err error) {
	if err := tx.DeleteMailbox(ctx, m.ID); err != nil {
		return nil, nil, err
	}
	if err := s.audit(ctx, tx, a, "delete", "mailbox", m.Address, d.Name, mailboxView(m), map[string]any{"purged": purge}); err != nil {
		return nil, nil, err
	}
	src := filepath.Join(s.opts.MaildirRoot, filepath.FromSlash(strings.TrimSuffix(m.Maildir, "/")))
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("deleted mailbox had no Maildir", "address", m.Address, "path", src)
		return nil, nil, nil
	}
	now := s.opts.Now()
	var rel, dst string
	for ts := now.Unix(); ; ts++ { // two deletes of one address in a second get distinct names
		rel = d.Name + "/" + m.LocalPart + "-" + strconv.FormatInt(ts, 10)
		dst = filepath.Join(s.opts.RetentionRoot, filepath.FromSlash(rel))
		_, err := os.Lstat(dst)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil || ts > now.Unix()+1000 {
			return nil, nil, fmt.Errorf("admin: retention path for %s: %v", m.Address, err)
		}
	}
	if err := maildir.MoveTo(src, dst, s.opts.Owner); err != nil {
		return nil, nil, fmt.Errorf("admin: retain maildir: %w", err)
	}
	undo = func() {
		if err := maildir.MoveTo(dst, src, s.opts.Owner); err != nil {
			s.log.Error("move maildir back after failed delete", "from", dst, "to", src, "err", err)
		}
	}
	if purge {
		after = func() {
			if err := os.RemoveAll(dst); err != nil {
				s.log.Error("purge maildir", "path", dst, "err", err)
			}
		}
		return undo, after, nil
	}
	err = tx.InsertRetained(ctx, store.RetainedMaildir{
		Address: m.Address, Path: rel, UsedBytes: m.UsedBytes,
		PurgeAfter: now.Add(time.Duration(s.opts.RetentionDays) * 24 * time.Hour),
	})
	return undo, nil, err
}

// PurgeRetained removes the retained Maildirs whose time has come and
// returns how many it removed.
func (s *Service) PurgeRetained(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := s.st.Tx(ctx, func(tx *store.Tx) error {
			rows, err := tx.ExpiredRetained(ctx, s.opts.Now(), 100)
			if err != nil {
				return err
			}
			for _, r := range rows {
				path := filepath.Join(s.opts.RetentionRoot, filepath.FromSlash(r.Path))
				if err := os.RemoveAll(path); err != nil {
					return fmt.Errorf("admin: purge %s: %w", path, err)
				}
				if err := tx.DeleteRetained(ctx, r.ID); err != nil {
					return err
				}
				_, dom := address.Split(r.Address)
				if err := s.audit(ctx, tx, System(), "purge", "retained_maildir", r.Address, dom,
					map[string]any{"path": r.Path, "deleted_at": r.DeletedAt, "used_bytes": r.UsedBytes}, nil); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		total += n
		if err != nil || n < 100 {
			return total, err
		}
	}
}
