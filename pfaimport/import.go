// Package pfaimport moves a Postfix Admin 3.x + Dovecot installation into
// mailhost (mailhost import postfixadmin): the database's domains,
// mailboxes (with their password hashes), aliases, alias domains, admins
// and vacation replies through the admin service, and each mailbox's
// Maildir, in place or copied, with Dovecot's UIDVALIDITYs, UIDs, flags,
// keywords, POP3 UIDLs and subscriptions into the index, so mail clients
// keep their caches. A second run skips what exists and reports what
// differs; a dry run only reports.
package pfaimport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"mailhost/address"
	"mailhost/admin"
	"mailhost/auth"
	"mailhost/maildir"
	"mailhost/store"
)

// Hasher hashes a password in the configured scheme (auth.Hasher).
type Hasher interface {
	Hash(password string) (string, error)
}

// SieveImporter takes a mailbox's Sieve scripts (paths of .dovecot.sieve
// and sieve/*.sieve in its Dovecot home). The hook for Sieve storage: with
// none (nil), scripts are reported as found and not imported.
type SieveImporter interface {
	ImportSieve(ctx context.Context, mailbox string, home string, scripts []string) error
}

// Password schemes of Postfix Admin's $CONF['encrypt'] for stored strings
// that carry no recognisable scheme.
const (
	// PasswordsAuto keeps every recognisable hash and imports a mailbox
	// whose password is none with a random one (reported).
	PasswordsAuto = "auto"
	// PasswordsCleartext hashes unrecognisable strings as cleartext
	// passwords ($CONF['encrypt'] = 'cleartext').
	PasswordsCleartext = "cleartext"
	// PasswordsMD5 reads 32 hexadecimal digits as an unsalted MD5 digest
	// ($CONF['encrypt'] = 'md5'), {PLAIN-MD5}.
	PasswordsMD5 = "md5"
)

// Options configure an import.
type Options struct {
	Source  *Source
	Admin   *admin.Service
	Store   *store.Store
	Hasher  Hasher
	Log     *slog.Logger
	Sieve   SieveImporter // nil: Sieve scripts are only reported
	Domains []string      // only these domains (and what belongs to them); all when empty
	// MaildirRoot is where Dovecot keeps the Maildirs (mailbox.maildir is
	// relative to it); DestRoot is mailhost's maildir_root. Without Copy
	// they must be the same directory.
	MaildirRoot, DestRoot string
	Copy                  bool
	DryRun                bool
	Owner                 maildir.Owner // vmail: every Maildir file ends owned by it (when running as root)
	// Passwords is PasswordsAuto, PasswordsCleartext or PasswordsMD5.
	Passwords string
	// UIDLFormat is Dovecot's pop3_uidl_format; DefaultUIDLFormat when "".
	UIDLFormat string
	// QuotaMultiplier is Postfix Admin's $CONF['quota_multiplier'] (bytes
	// per unit of a domain's maxquota and quota), 1024000 when 0.
	QuotaMultiplier int64
}

// importer is one run.
type importer struct {
	Options
	rep     Report
	uidl    uidlFormat
	only    map[string]bool // Options.Domains, normalised
	domains map[string]bool // the domains this run takes (imported or existing)
	created map[string]bool // the domains this run creates: their limits are set at the end
	// aliasDomains are Postfix Admin's domains that are alias domains, to
	// their targets: what is filed under them is not imported.
	aliasDomains map[string]string
	boxes        map[string]bool // the mailboxes this run takes
}

// Run imports, or with DryRun says what it would import.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.QuotaMultiplier == 0 {
		o.QuotaMultiplier = 1024000
	}
	if o.UIDLFormat == "" {
		o.UIDLFormat = DefaultUIDLFormat
	}
	switch o.Passwords {
	case "":
		o.Passwords = PasswordsAuto
	case PasswordsAuto, PasswordsCleartext, PasswordsMD5:
	default:
		return nil, fmt.Errorf("pfaimport: unknown password mode %q (auto, cleartext, md5)", o.Passwords)
	}
	f, err := parseUIDLFormat(o.UIDLFormat)
	if err != nil {
		return nil, err
	}
	if !o.Copy {
		if err := sameDir(o.MaildirRoot, o.DestRoot); err != nil {
			return nil, err
		}
	}
	im := &importer{Options: o, uidl: f, only: map[string]bool{}, domains: map[string]bool{}, created: map[string]bool{}, aliasDomains: map[string]string{}, boxes: map[string]bool{}}
	im.rep.DryRun = o.DryRun
	for _, d := range o.Domains {
		n, err := address.Domain(d)
		if err != nil {
			return nil, fmt.Errorf("pfaimport: --domain %q: %w", d, err)
		}
		im.only[n] = true
	}
	steps := []func(context.Context) error{im.importDomains, im.importAliasDomains, im.importMailboxes,
		im.importAliases, im.importVacations, im.importAdmins, im.applyLimits, im.compareQuota, im.reportFetchmail}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return &im.rep, err
		}
	}
	return &im.rep, nil
}

// sameDir checks that the in-place import's two roots are one directory.
func sameDir(a, b string) error {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("pfaimport: %w", err)
	}
	if ra != rb {
		return fmt.Errorf("pfaimport: --maildir-root %s is not mailhost's maildir_root %s: set maildir_root to it to take the Maildirs in place, or give --copy", a, b)
	}
	return nil
}

// wanted tells whether domain name (as Postfix Admin spells it) is in the
// selection, and its normalised name.
func (im *importer) wanted(name string) (string, bool) {
	n, err := address.Domain(name)
	if err != nil {
		return name, false
	}
	return n, len(im.only) == 0 || im.only[n]
}

// exists classifies an admin service or store lookup: found, not found,
// or a failure to stop on.
func exists(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, admin.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}

// importDomains takes the domains, but not those Postfix Admin also lists
// as alias domains (it wants an alias domain in both tables; mailhost
// keeps a name as one or the other).
func (im *importer) importDomains(ctx context.Context) error {
	rows, err := im.Source.domains(ctx)
	if err != nil {
		return err
	}
	ads, err := im.Source.aliasDomains(ctx)
	if err != nil {
		return err
	}
	aliasOf := map[string]string{}
	for _, a := range ads {
		aliasOf[strings.ToLower(a.Alias)] = a.Target
	}
	for _, d := range rows {
		if strings.EqualFold(d.Name, "ALL") {
			continue // Postfix Admin's pseudo-domain of super-admins
		}
		if t, ok := aliasOf[strings.ToLower(d.Name)]; ok {
			im.aliasDomains[strings.ToLower(d.Name)] = t
			continue
		}
		name, ok := im.wanted(d.Name)
		if !ok {
			if len(im.only) == 0 { // not filtered out: invalid
				im.rep.skip("domain "+d.Name, "not a valid domain name")
			}
			continue
		}
		kind, relay := "local", ""
		if t, hop, ok := strings.Cut(d.Transport, ":"); ok && (t == "relay" || t == "smtp") {
			kind = "relay"
			if h, err := admin.ParseNextHop(hop); err == nil {
				relay = h
			}
		}
		if d.BackupMX {
			kind = "relay"
		}
		cur, err := im.Admin.Domain(ctx, admin.CLI(), name)
		found, err := exists(err)
		if err != nil {
			return err
		}
		im.domains[name] = true
		if found {
			im.rep.Domains.Existing++
			if cur.Kind != kind || cur.Active != d.Active {
				im.rep.differ("domain %s: here %s, active %v; Postfix Admin %s, active %v", name, cur.Kind, cur.Active, kind, d.Active)
			}
			continue
		}
		im.rep.Domains.Created++
		im.created[name] = true
		if im.DryRun {
			continue
		}
		in := admin.DomainInput{Name: &name, Description: &d.Description, Kind: &kind, Active: &d.Active}
		if relay != "" {
			in.RelayTo = &relay
		}
		if _, err := im.Admin.CreateDomain(ctx, admin.CLI(), in); err != nil {
			return fmt.Errorf("pfaimport: domain %s: %w", name, err)
		}
	}
	return nil
}

func (im *importer) importAliasDomains(ctx context.Context) error {
	rows, err := im.Source.aliasDomains(ctx)
	if err != nil {
		return err
	}
	for _, r := range rows {
		target, ok := im.wanted(r.Target)
		if !ok {
			continue
		}
		alias, err := address.Domain(r.Alias)
		if err != nil {
			im.rep.skip("alias domain "+r.Alias, "not a valid domain name")
			continue
		}
		if !im.domains[target] {
			im.rep.skip("alias domain "+alias, "its target %s is not imported", target)
			continue
		}
		cur, err := im.Admin.AliasDomain(ctx, admin.CLI(), alias)
		found, err := exists(err)
		if err != nil {
			return err
		}
		if found {
			im.rep.AliasDomains.Existing++
			if cur.TargetDomain != target {
				im.rep.differ("alias domain %s: here for %s, Postfix Admin for %s", alias, cur.TargetDomain, target)
			}
			continue
		}
		im.rep.AliasDomains.Created++
		if im.DryRun {
			continue
		}
		in := admin.AliasDomainInput{AliasDomain: &alias, TargetDomain: &target, Active: &r.Active}
		if _, err := im.Admin.CreateAliasDomain(ctx, admin.CLI(), in); err != nil {
			if err := im.refused(err, &im.rep.AliasDomains, "alias domain "+alias); err != nil {
				return err
			}
		}
	}
	return nil
}

// password turns a stored Postfix Admin password into one mailhost
// verifies, or "" (with the reason) when it cannot.
func (im *importer) password(stored string) (string, string, error) {
	if auth.Scheme(stored) != "" {
		return stored, "", nil
	}
	switch im.Passwords {
	case PasswordsCleartext:
		if stored == "" {
			return "", "empty password", nil
		}
		h, err := im.Hasher.Hash(stored)
		if err != nil {
			return "", "", fmt.Errorf("pfaimport: hash a cleartext password: %w", err)
		}
		im.rep.HashedCleartext++
		return h, "", nil
	case PasswordsMD5:
		if len(stored) == 32 && auth.Scheme("{PLAIN-MD5}"+stored) != "" {
			return "{PLAIN-MD5}" + strings.ToLower(stored), "", nil
		}
	}
	return "", "the stored password is in no scheme mailhost verifies (give --passwords cleartext or md5 if Postfix Admin's encrypt setting was one of those)", nil
}

func (im *importer) importMailboxes(ctx context.Context) error {
	rows, err := im.Source.mailboxes(ctx)
	if err != nil {
		return err
	}
	slices.SortFunc(rows, func(a, b pfaMailbox) int { return strings.Compare(a.Username, b.Username) })
	for _, m := range rows {
		if err := im.importMailbox(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) importMailbox(ctx context.Context, m pfaMailbox) error {
	dom, ok := im.wanted(m.Domain)
	if !ok {
		return nil
	}
	what := "mailbox " + m.Username
	if !im.domains[dom] {
		im.rep.skip(what, "%s", im.notImported(dom))
		return nil
	}
	local := m.LocalPart
	if local == "" {
		local, _, _ = strings.Cut(m.Username, "@")
	}
	local = strings.ToLower(local)
	addr := local + "@" + dom
	src, home, err := findMaildir(im.MaildirRoot, m.Maildir, dom, local)
	if err != nil {
		im.rep.skip(what, "%v", err)
	}
	rel := filepath.ToSlash(filepath.Join(dom, local))
	if !im.Copy && src != "" {
		rel, _ = filepath.Rel(im.MaildirRoot, src)
		rel = filepath.ToSlash(rel)
	}
	cur, err := im.Store.Read().MailboxByAddress(ctx, addr, false)
	found, err := exists(err)
	if err != nil {
		return err
	}
	var id int64
	if found {
		im.rep.Mailboxes.Existing++
		id = cur.ID
		if cur.Password != m.Password && auth.Scheme(m.Password) != "" {
			im.rep.PasswordsChanged++ // upgraded at a login, or set anew
		}
		if strings.TrimSuffix(cur.Maildir, "/") != strings.TrimSuffix(rel, "/") {
			im.rep.differ("mailbox %s: Maildir here %s, source %s", addr, cur.Maildir, rel)
			rel = cur.Maildir
		}
	} else {
		hash, why, err := im.password(m.Password)
		if err != nil {
			return err
		}
		if why != "" {
			im.rep.skip(what+" password", "%s; the mailbox gets a random password: set one with mailhost mailbox passwd", why)
			if hash, err = im.Hasher.Hash(admin.GeneratePassword(admin.GeneratedPasswordLen)); err != nil {
				return fmt.Errorf("pfaimport: hash a random password: %w", err)
			}
		}
		im.rep.Mailboxes.Created++
		if !im.DryRun {
			v, err := im.Admin.ImportMailbox(ctx, admin.CLI(), dom, admin.ImportedMailbox{LocalPart: local, Name: m.Name,
				PasswordHash: hash, QuotaBytes: max(m.Quota, 0), Maildir: rel, Active: m.Active})
			if err != nil {
				return im.refused(err, &im.rep.Mailboxes, what)
			}
			mb, err := im.Store.Read().MailboxByAddress(ctx, v.Address, false)
			if err != nil {
				return err
			}
			id = mb.ID
		}
	}
	im.boxes[addr] = true
	if src == "" {
		return nil
	}
	dst := src
	if im.Copy {
		dst = filepath.Join(im.DestRoot, filepath.FromSlash(rel))
		if !im.DryRun {
			if err := mkdirOwned(im.DestRoot, filepath.FromSlash(rel), im.Owner); err != nil {
				return err
			}
		}
	}
	before := im.rep.Messages
	if err := im.importMaildir(ctx, id, addr, src, dst); err != nil {
		return fmt.Errorf("pfaimport: %s: %w", what, err)
	}
	im.Log.Info("import: mailbox", "address", addr, "maildir", dst, "messages", im.rep.Messages-before, "dry_run", im.DryRun)
	im.sieve(ctx, addr, home)
	return nil
}

// sieve hands a mailbox's Sieve scripts to the Sieve hook, or reports them.
func (im *importer) sieve(ctx context.Context, addr, home string) {
	files := sieveFiles(home)
	if len(files) == 0 {
		return
	}
	if im.Sieve == nil || im.DryRun {
		im.rep.Sieve = append(im.rep.Sieve, files...)
		return
	}
	if err := im.Sieve.ImportSieve(ctx, addr, home, files); err != nil {
		im.rep.skip("Sieve scripts of "+addr, "%v", err)
		return
	}
	im.rep.SieveImported += len(files)
}

// applyLimits sets the domains' limits once their mailboxes and aliases
// are in (the limits of Postfix Admin need not hold for what it already
// has, e.g. inactive mailboxes over the count).
func (im *importer) applyLimits(ctx context.Context) error {
	if im.DryRun {
		return nil
	}
	rows, err := im.Source.domains(ctx)
	if err != nil {
		return err
	}
	for _, d := range rows {
		name, ok := im.wanted(d.Name)
		if !ok || !im.created[name] {
			continue
		}
		limit := func(n int64, what string) *int64 {
			if n < 0 {
				im.rep.skip("domain "+name+" "+what, "disabled in Postfix Admin (-1); mailhost has no such setting, left unlimited")
			}
			v := max(n, 0)
			return &v
		}
		in := admin.DomainInput{MaxMailboxes: limit(d.Mailboxes, "mailboxes"), MaxAliases: limit(d.Aliases, "aliases"),
			MaxQuotaBytes: limit(d.MaxQuota*im.QuotaMultiplier, "maxquota"), QuotaBytes: limit(d.Quota*im.QuotaMultiplier, "quota")}
		_, err := im.Admin.UpdateDomain(ctx, admin.CLI(), name, in)
		var c Count
		if err := im.refused(err, &c, "limits of domain "+name); err != nil {
			return err
		}
	}
	return nil
}

// compareQuota reports mailboxes whose Dovecot usage (quota2) differs from
// what the import indexed.
func (im *importer) compareQuota(ctx context.Context) error {
	rows, err := im.Source.quota2(ctx)
	if err != nil {
		im.rep.skip("quota2", "%v", err)
		return nil
	}
	if im.DryRun {
		return nil
	}
	for _, q := range rows {
		addr := strings.ToLower(q.Username)
		if !im.boxes[addr] {
			continue
		}
		m, err := im.Store.Read().MailboxByAddress(ctx, addr, false)
		if err != nil {
			continue
		}
		if m.UsedBytes != q.Bytes || m.UsedMessages != q.Messages {
			im.rep.differ("mailbox %s: usage %d bytes, %d messages here; Dovecot's quota2 said %d bytes, %d messages",
				addr, m.UsedBytes, m.UsedMessages, q.Bytes, q.Messages)
		}
	}
	return nil
}

func (im *importer) reportFetchmail(ctx context.Context) error {
	rows, err := im.Source.fetchmail(ctx)
	if err != nil {
		im.rep.skip("fetchmail", "%v", err)
		return nil
	}
	for _, f := range rows {
		if _, ok := im.wanted(domainOf(f.Mailbox)); ok {
			im.rep.skip("fetchmail "+f.User+"@"+f.Server+" for "+f.Mailbox, "mailhost has no fetchmail feature")
		}
	}
	return nil
}

// notImported says why a domain's mailbox or alias is not imported.
func (im *importer) notImported(dom string) string {
	if t, ok := im.aliasDomains[dom]; ok {
		return fmt.Sprintf("its domain %s is an alias domain of %s: its addresses are %s's", dom, t, t)
	}
	return fmt.Sprintf("its domain %s is not imported", dom)
}

func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return d
}
