package pfaimport

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailhost/admin"
	"mailhost/auth"
	"mailhost/maildir"
	"mailhost/store"
	"mailhost/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

var testHasher = auth.Hasher{Scheme: auth.SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1}

// writeFile writes a file, making its directory.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fixtureMaildirs lays out Dovecot Maildirs for the fixtures' mailboxes:
// alice with a folder tree, keywords, a message Dovecot had not numbered
// and a Sieve script; carol in a path of her own with the Maildir in
// Maildir/ (mail_location = maildir:~/Maildir); bob with none.
func fixtureMaildirs(t *testing.T) string {
	root := t.TempDir()
	alice := filepath.Join(root, "example.org/alice")
	for _, d := range []string{"", ".Work", ".Work.Sub", ".Sent"} {
		for _, s := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(alice, d, s), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeFile(t, filepath.Join(alice, "dovecot-uidlist"), "3 V1600000000 N9 G0123456789abcdef\n"+
		"3 :1600000001.M1P1.old,S=10,W=11\n"+
		"7 W12 P0000abcd :1600000002.M2P1.old,S=12,W=13\n")
	writeFile(t, filepath.Join(alice, "dovecot-keywords"), "0 $Label1\n1 Important\n")
	writeFile(t, filepath.Join(alice, "cur/1600000001.M1P1.old,S=10,W=11:2,FSa"), "Subject: 1\n\nx\n")
	writeFile(t, filepath.Join(alice, "cur/1600000002.M2P1.old,S=12,W=13:2,Rb"), "Subject: 2\n\nxyz\n")
	writeFile(t, filepath.Join(alice, "new/1600000003.M3P1.old,S=10"), "Subject: 3\n\n\n")
	writeFile(t, filepath.Join(alice, ".Work/dovecot-uidlist"), "1 1600000100 3\n2 1600000004.M4P1.old\n")
	writeFile(t, filepath.Join(alice, ".Work/cur/1600000004.M4P1.old:2,S"), "Subject: 4\n\n")
	writeFile(t, filepath.Join(alice, "subscriptions"), "V\t2\n\nWork\nWork\tSub\nGone\n")
	writeFile(t, filepath.Join(alice, ".dovecot.sieve"), "keep;\n")
	carol := filepath.Join(root, "legacy/carol-maildir/Maildir")
	writeFile(t, filepath.Join(carol, "dovecot-uidlist"), "3 V1500000000 N2\n1 :1500000001.M1P1.c\n")
	writeFile(t, filepath.Join(carol, "cur/1500000001.M1P1.c:2,S"), "Subject: c\n\n")
	for _, s := range []string{"new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(carol, s), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

type importEnv struct {
	st    *store.Store
	svc   *admin.Service
	src   *Source
	mroot string
}

func newImportEnv(t *testing.T, dsn string) *importEnv {
	st := testdb.Open(t)
	mroot := fixtureMaildirs(t)
	src, err := OpenSource(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	svc := admin.New(st, admin.Options{Hasher: testHasher, MaildirRoot: mroot, Owner: ownerOf(t, mroot)})
	return &importEnv{st: st, svc: svc, src: src, mroot: mroot}
}

func ownerOf(t *testing.T, path string) maildir.Owner {
	return maildir.Owner{UID: os.Geteuid(), GID: os.Getegid()}
}

func (e *importEnv) run(t *testing.T, mod func(*Options)) *Report {
	t.Helper()
	o := Options{Source: e.src, Admin: e.svc, Store: e.st, Hasher: testHasher, MaildirRoot: e.mroot, DestRoot: e.mroot,
		Passwords: PasswordsCleartext, Owner: ownerOf(t, e.mroot)}
	if mod != nil {
		mod(&o)
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	rep.WriteTo(&b)
	t.Log(b.String())
	return rep
}

func TestImportPostgres(t *testing.T) { testImport(t, postgresSource(t)) }

func TestImportMariaDB(t *testing.T) { testImport(t, mariadbSource(t)) }

func testImport(t *testing.T, dsn string) {
	e := newImportEnv(t, dsn)
	ctx := context.Background()
	cli := admin.CLI()

	// A dry run counts and changes nothing.
	rep := e.run(t, func(o *Options) { o.DryRun = true })
	if rep.Domains.Created != 3 || rep.Mailboxes.Created != 7 || rep.Messages != 5 {
		t.Fatalf("dry run: %+v", rep)
	}
	if l, err := e.svc.Domains(ctx, cli, admin.ListParams{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("dry run made domains: %v %v", l.Items, err)
	}

	rep = e.run(t, nil)
	want := Report{Domains: Count{3, 0}, AliasDomains: Count{1, 0}, Mailboxes: Count{7, 0}, Aliases: Count{4, 0},
		Forwardings: Count{2, 0}, Vacations: Count{2, 0}, Admins: Count{3, 0}, Folders: Count{5, 0}, SelfAliases: 5,
		Messages: 5, HashedCleartext: 1}
	got := *rep
	got.Bytes, got.Sieve, got.Skipped, got.Differences = 0, nil, nil, nil
	if !equalCounts(got, want) {
		t.Fatalf("first run:\n got %+v\nwant %+v", got, want)
	}
	for _, s := range []string{"fetchmail bob.isp@pop.isp.test", "alias loop@example.org", "mailbox bob@example.org",
		"admin nobody@example.org"} {
		if !slices.ContainsFunc(rep.Skipped, func(k skipped) bool { return strings.HasPrefix(k.What, s) }) {
			t.Errorf("%q not reported as skipped", s)
		}
	}
	if len(rep.Sieve) != 1 || !strings.HasSuffix(rep.Sieve[0], "alice/.dovecot.sieve") {
		t.Errorf("Sieve scripts reported: %v", rep.Sieve)
	}

	checkDomains(t, e)
	checkMailboxes(t, e)
	checkAliases(t, e)
	checkIndex(t, e)

	// A second run finds everything there and adds nothing.
	rep = e.run(t, nil)
	if rep.Domains.Created+rep.Mailboxes.Created+rep.Aliases.Created+rep.Admins.Created+rep.Vacations.Created+
		rep.Folders.Created != 0 || rep.Messages != 0 || rep.MessagesExisting != 5 || rep.Mailboxes.Existing != 7 {
		t.Fatalf("second run: %+v", rep)
	}
}

func equalCounts(a, b Report) bool {
	return a.Domains == b.Domains && a.AliasDomains == b.AliasDomains && a.Mailboxes == b.Mailboxes &&
		a.Aliases == b.Aliases && a.Forwardings == b.Forwardings && a.Vacations == b.Vacations &&
		a.Admins == b.Admins && a.Folders == b.Folders && a.SelfAliases == b.SelfAliases &&
		a.Messages == b.Messages && a.HashedCleartext == b.HashedCleartext
}

func checkDomains(t *testing.T, e *importEnv) {
	ctx, cli := context.Background(), admin.CLI()
	d, err := e.svc.Domain(ctx, cli, "example.org")
	if err != nil || d.Kind != "local" || !d.Active || d.MaxMailboxes != 10 || d.MaxAliases != 20 ||
		d.MaxQuotaBytes != 100*1024000 || d.QuotaBytes != 1000*1024000 {
		t.Errorf("example.org: %+v %v", d, err)
	}
	if d, err := e.svc.Domain(ctx, cli, "example.net"); err != nil || d.Active || d.MaxAliases != 0 {
		t.Errorf("example.net (inactive, aliases disabled): %+v %v", d, err)
	}
	if d, err := e.svc.Domain(ctx, cli, "backup.example"); err != nil || d.Kind != "relay" || d.RelayTo != "[mx.backup.example]:2525" {
		t.Errorf("backup.example: %+v %v", d, err)
	}
	if a, err := e.svc.AliasDomain(ctx, cli, "alias.example"); err != nil || a.TargetDomain != "example.org" {
		t.Errorf("alias.example: %+v %v", a, err)
	}
	if _, err := e.svc.Domain(ctx, cli, "all"); err == nil {
		t.Errorf("Postfix Admin's pseudo-domain ALL imported")
	}
}

func checkMailboxes(t *testing.T, e *importEnv) {
	ctx := context.Background()
	for _, local := range []string{"alice", "bob", "carol", "dave", "gina", "erin@example.net", "frank@example.net"} {
		addr := local
		if !strings.Contains(addr, "@") {
			addr += "@example.org"
		}
		m, err := e.st.Read().MailboxByAddress(ctx, addr, false)
		if err != nil {
			t.Errorf("%s: %v", addr, err)
			continue
		}
		l, _, _ := strings.Cut(addr, "@")
		if ok, err := auth.Verify(m.Password, "pw-"+l); !ok || err != nil {
			t.Errorf("%s: password pw-%s does not verify against %q: %v", addr, l, m.Password, err)
		}
		if m.Active != (l != "dave") {
			t.Errorf("%s: active %v", addr, m.Active)
		}
	}
	carol, _ := e.st.Read().MailboxByAddress(ctx, "carol@example.org", false)
	if carol.Maildir != "legacy/carol-maildir/Maildir/" {
		t.Errorf("carol's Maildir: %q", carol.Maildir)
	}
	alice, _ := e.st.Read().MailboxByAddress(ctx, "alice@example.org", false)
	if alice.QuotaBytes != 51200000 || alice.Name != "Alice" || alice.UsedMessages != 4 {
		t.Errorf("alice: %+v", alice)
	}
	v, err := e.svc.Vacation(ctx, admin.CLI(), "alice@example.org")
	if err != nil || v.Subject != "Away" || v.Body != "Back on Monday." || !v.Active {
		t.Errorf("alice's vacation: %+v %v", v, err)
	}
	v, err = e.svc.Vacation(ctx, admin.CLI(), "bob@example.org")
	if err != nil || v.Active || v.IntervalSeconds != 86400 || v.ActiveFrom == nil || v.ActiveFrom.Year() != 2030 {
		t.Errorf("bob's vacation: %+v %v", v, err)
	}
	for user, want := range map[string]string{"admin@example.org": "super", "oldsuper": "super", "domadm@example.org": "example.net,example.org"} {
		a, err := e.svc.Admin(ctx, admin.CLI(), user)
		got := strings.Join(a.Domains, ",")
		if a.Superadmin {
			got = "super"
		}
		if err != nil || got != want {
			t.Errorf("admin %s: %+v %v", user, a, err)
		}
	}
}

func checkAliases(t *testing.T, e *importEnv) {
	ctx, cli := context.Background(), admin.CLI()
	team, err := e.svc.Alias(ctx, cli, "team@example.org")
	if err != nil || len(team.Destinations) != 8 {
		t.Errorf("team: %+v %v", team, err)
	}
	if c, err := e.svc.Alias(ctx, cli, "@example.org"); err != nil || !slices.Equal(c.Destinations, []string{"alice@example.org"}) {
		t.Errorf("catch-all: %+v %v", c, err)
	}
	if o, err := e.svc.Alias(ctx, cli, "old@example.org"); err != nil || o.Active {
		t.Errorf("old (inactive): %+v %v", o, err)
	}
	f, err := e.svc.Forwarding(ctx, cli, "bob@example.org")
	if err != nil || !f.KeepCopy || !slices.Equal(f.Destinations, []string{"bob@elsewhere.test"}) {
		t.Errorf("bob's forwarding: %+v %v", f, err)
	}
	f, err = e.svc.Forwarding(ctx, cli, "carol@example.org")
	if err != nil || f.KeepCopy || !slices.Equal(f.Destinations, []string{"carol.ext@far.test"}) {
		t.Errorf("carol's forwarding: %+v %v", f, err)
	}
	if f, err := e.svc.Forwarding(ctx, cli, "alice@example.org"); err == nil && len(f.Destinations) > 0 {
		t.Errorf("alice's self-alias (and vacation address) became a forwarding: %+v", f)
	}
}

func checkIndex(t *testing.T, e *importEnv) {
	ctx := context.Background()
	alice, _ := e.st.Read().MailboxByAddress(ctx, "alice@example.org", false)
	in, err := e.st.IMAPFolder(ctx, alice.ID, "INBOX")
	if err != nil || in.UIDValidity != 1600000000 || in.UIDNext != 10 {
		t.Fatalf("INBOX: %+v %v", in, err)
	}
	uids, _ := e.st.IMAPUIDs(ctx, in.ID)
	msgs, err := e.st.IMAPMessages(ctx, in.ID, uids)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("INBOX messages: %+v %v", msgs, err)
	}
	type row struct {
		uid        uint32
		flags, kws string
	}
	var got []row
	for _, m := range msgs {
		got = append(got, row{m.UID, strings.Join(m.Flags, " "), strings.Join(m.Keywords, " ")})
	}
	want := []row{{3, `\Flagged \Seen`, "$Label1"}, {7, `\Answered`, "Important"}, {9, "", ""}}
	if !slices.Equal(got, want) {
		t.Errorf("INBOX: got %v, want %v", got, want)
	}
	drop, err := e.st.POP3Inbox(ctx, alice.ID)
	if err != nil || len(drop.Messages) != 3 {
		t.Fatal(drop, err)
	}
	var uidls []string
	for _, m := range drop.Messages {
		uidls = append(uidls, m.UIDL)
	}
	// %08Xu%08Xv of UID 3 and UIDVALIDITY 1600000000 (5f5e1000); the
	// saved P field for UID 7; the native one for the message Dovecot had
	// not numbered.
	if !slices.Equal(uidls, []string{"000000035f5e1000", "0000abcd", ""}) {
		t.Errorf("POP3 UIDLs: %q", uidls)
	}
	work, err := e.st.IMAPFolder(ctx, alice.ID, "Work")
	if err != nil || work.UIDValidity != 1600000100 || work.UIDNext != 3 || !work.Subscribed {
		t.Errorf("Work: %+v %v", work, err)
	}
	if sub, err := e.st.IMAPFolder(ctx, alice.ID, "Work/Sub"); err != nil || !sub.Subscribed {
		t.Errorf("Work/Sub: %+v %v", sub, err)
	}
	if s, err := e.st.IMAPFolder(ctx, alice.ID, "Sent"); err != nil || s.SpecialUse != `\Sent` {
		t.Errorf("Sent: %+v %v", s, err)
	}
	subs, _ := e.st.IMAPSubscriptions(ctx, alice.ID)
	if !slices.Equal(subs, []string{"Gone", "Work", "Work/Sub"}) {
		t.Errorf("subscriptions: %v", subs)
	}
}

// TestImportOneDomain: --domain takes that domain and what belongs to it
// only; super-admins are left out, a domain admin keeps the selected
// domains.
func TestImportOneDomain(t *testing.T) {
	e := newImportEnv(t, postgresSource(t))
	ctx, cli := context.Background(), admin.CLI()
	rep := e.run(t, func(o *Options) { o.Domains = []string{"Example.NET"} })
	if rep.Domains.Created != 1 || rep.Mailboxes.Created != 2 || rep.Aliases.Created != 1 || rep.Admins.Created != 1 ||
		rep.AliasDomains.Created != 0 || rep.Messages != 0 {
		t.Fatalf("report: %+v", rep)
	}
	if _, err := e.svc.Domain(ctx, cli, "example.org"); err == nil {
		t.Error("example.org imported")
	}
	if a, err := e.svc.Admin(ctx, cli, "domadm@example.org"); err != nil || a.Superadmin || !slices.Equal(a.Domains, []string{"example.net"}) {
		t.Errorf("domadm: %+v %v", a, err)
	}
	if _, err := e.svc.Admin(ctx, cli, "admin@example.org"); err == nil {
		t.Error("a super-admin imported with --domain")
	}
}
