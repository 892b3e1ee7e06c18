package admin

import (
	"context"
	"path"
	"strings"

	"mailhost/address"
	"mailhost/auth"
	"mailhost/store"
)

// ImportedMailbox is a mailbox taken over from another server (mailhost
// import): its stored password hash as it is, and its Maildir where it
// already lies.
type ImportedMailbox struct {
	LocalPart    string
	Name         string
	PasswordHash string // a stored hash auth verifies ({SCHEME} or $id$ crypt string)
	QuotaBytes   int64  // 0: unlimited
	Maildir      string // relative to the Maildir root, e.g. "example.org/alice/"
	Active       bool
}

// ImportedAdmin is an admin taken over from another server, with its
// password hash as it is.
type ImportedAdmin struct {
	Username     string
	PasswordHash string
	Superadmin   bool
	Domains      []string // administered domains, already imported
	Active       bool
}

// checkHash refuses a stored password no login could ever match.
func checkHash(f *fields, field, h string) {
	if auth.Scheme(h) == "" {
		f.add(field, "is not a password hash in a scheme mailhost verifies")
	}
}

// ImportMailbox adds a mailbox taken over from another server: no folder
// rows (the import makes them with the old UIDVALIDITYs), no Maildir made,
// no limit of the domain checked (the import sets the limits after the
// mailboxes). CLI and system actors only: a hash given as is bypasses the
// password rules, which only an operator importing may do.
func (s *Service) ImportMailbox(ctx context.Context, a Actor, domain string, in ImportedMailbox) (MailboxView, error) {
	if a.Kind != "cli" && a.Kind != "system" {
		return MailboxView{}, newErr(Forbidden, "only the command line may import mailboxes")
	}
	var f fields
	local := checkMailboxLocal(&f, in.LocalPart)
	checkHash(&f, "password", in.PasswordHash)
	if len(in.Name) > 255 {
		f.add("name", "is longer than 255 characters")
	}
	if in.QuotaBytes < 0 || in.QuotaBytes > MaxQuota {
		f.add("quota_bytes", "must be from 0 (unlimited) to %d bytes", int64(MaxQuota))
	}
	dir := path.Clean(in.Maildir)
	if in.Maildir == "" || path.IsAbs(dir) || dir == "." || dir == ".." || strings.HasPrefix(dir, "../") {
		f.add("maildir", "must be a path inside the Maildir root")
	}
	if err := f.err(); err != nil {
		return MailboxView{}, err
	}
	var out store.Mailbox
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := s.domainFor(ctx, tx, a, domain, true)
		if err != nil {
			return err
		}
		if d.Kind != "local" {
			return newErr(Conflict, "domain %s is a relay domain; it holds no mailboxes", d.Name)
		}
		addr := local + "@" + d.Name
		if len(addr) > address.MaxPathLen {
			return invalid("local_part", "makes the address longer than %d octets", address.MaxPathLen)
		}
		m := store.Mailbox{DomainID: d.ID, LocalPart: local, Address: addr, Name: in.Name,
			Password: in.PasswordHash, QuotaBytes: in.QuotaBytes, Maildir: dir + "/", Active: in.Active}
		out, err = tx.InsertMailbox(ctx, m, nil)
		if err != nil {
			return conflict(err, "address %s is already taken by a mailbox or an alias", addr)
		}
		return s.audit(ctx, tx, a, "import", "mailbox", addr, d.Name, nil, mailboxView(out))
	})
	if err != nil {
		return MailboxView{}, err
	}
	return mailboxView(out), nil
}

// ImportAdmin adds an admin taken over from another server, with its
// password hash as it is. CLI and system actors only.
func (s *Service) ImportAdmin(ctx context.Context, a Actor, in ImportedAdmin) (AdminView, error) {
	if a.Kind != "cli" && a.Kind != "system" {
		return AdminView{}, newErr(Forbidden, "only the command line may import admins")
	}
	var f fields
	username, why := normUsername(in.Username)
	if why != "" {
		f.add("username", "%s", why)
	}
	checkHash(&f, "password", in.PasswordHash)
	if err := f.err(); err != nil {
		return AdminView{}, err
	}
	var out store.Admin
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		ids, err := domainIDs(ctx, tx, "domains", in.Domains)
		if err != nil {
			return err
		}
		out, err = tx.InsertAdmin(ctx, store.Admin{Username: username, Password: in.PasswordHash,
			Superadmin: in.Superadmin, Active: in.Active, DomainIDs: ids})
		if err != nil {
			return conflict(err, "admin %s already exists", username)
		}
		return s.audit(ctx, tx, a, "import", "admin", username, "", nil, adminView(out))
	})
	if err != nil {
		return AdminView{}, err
	}
	return adminView(out), nil
}
