package admin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"mailhost/auth"
	"mailhost/maildir"
	"mailhost/store"
	"mailhost/testdb"
)

// clock is a settable Now for the service.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newTestService is a service with cheap hashes, its Maildirs in a
// temporary directory and a settable clock.
func newTestService(t *testing.T) (*Service, *store.Store, *clock) {
	t.Helper()
	st := testdb.Open(t)
	dir := t.TempDir()
	var own maildir.Owner
	if os.Geteuid() == 0 {
		own = maildir.Owner{UID: 5000, GID: 5000}
	}
	c := &clock{t: time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC)}
	s := New(st, Options{Hasher: auth.Hasher{Scheme: auth.SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1},
		MaildirRoot: filepath.Join(dir, "vmail"), RetentionRoot: filepath.Join(dir, "retention"), RetentionDays: 1,
		Owner: own, Now: c.now})
	return s, st, c
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The life of an admin's second factor: enrol, confirm with a code,
// codes good once, recovery codes good once, disable with password and
// code; every change ends the admin's sessions and is audited.
func TestTOTPLifecycle(t *testing.T) {
	ctx := context.Background()
	s, st, clk := newTestService(t)
	pw := "correct horse battery"
	root, err := s.CreateAdmin(ctx, CLI(), AdminInput{Username: new("root"), Password: new(pw), Superadmin: new(true)})
	if err != nil {
		t.Fatal(err)
	}
	ad, _ := st.Read().AdminByUsername(ctx, root.Username)
	me := Account{AdminID: ad.ID}

	if v, err := s.SecondFactor(ctx, me); err != nil || v.Enabled || v.Pending {
		t.Fatalf("before enrolment: %+v, %v", v, err)
	}
	if err := s.CheckSecondFactor(ctx, me, "123456", "192.0.2.1"); KindOf(err) != Unauthorized {
		t.Fatalf("check without a second factor: %v", err)
	}
	e, err := s.BeginTOTP(ctx, me)
	if err != nil || !strings.HasPrefix(e.QRPNG, "data:image/png;base64,") || !strings.Contains(e.URL, "secret="+e.Secret) {
		t.Fatalf("BeginTOTP = %+v, %v", e, err)
	}
	if again, _ := s.BeginTOTP(ctx, me); again.Secret != e.Secret {
		t.Fatal("a pending enrolment got a new secret on a second look")
	}
	var f *ValidationError
	if _, err := s.ConfirmTOTP(ctx, me, "000000"); !errors.As(err, &f) || f.Fields[0].Field != "code" {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	sessionOf(t, st, "s1", ad.ID)
	codes, err := s.ConfirmTOTP(ctx, me, code(t, e.Secret, clk.t))
	if err != nil || len(codes) != RecoveryCodeCount {
		t.Fatalf("ConfirmTOTP = %q, %v", codes, err)
	}
	if sessions(t, st, ad.ID) != 0 {
		t.Fatal("enrolment left the admin's sessions")
	}
	if _, err := s.BeginTOTP(ctx, me); KindOf(err) != Conflict {
		t.Fatalf("BeginTOTP with a second factor on: %v", err)
	}
	// The code that confirmed is used; the next step's is good once.
	if err := s.CheckSecondFactor(ctx, me, code(t, e.Secret, clk.t), "192.0.2.1"); KindOf(err) != Unauthorized {
		t.Fatalf("the confirming code again: %v", err)
	}
	clk.t = clk.t.Add(30 * time.Second)
	c := code(t, e.Secret, clk.t)
	if err := s.CheckSecondFactor(ctx, me, c[:3]+" "+c[3:], "192.0.2.1"); err != nil {
		t.Fatalf("a fresh code: %v", err)
	}
	if err := s.CheckSecondFactor(ctx, me, c, "192.0.2.1"); KindOf(err) != Unauthorized {
		t.Fatalf("a replayed code in its step: %v", err)
	}
	// A recovery code works once, in any case and without its dash.
	if err := s.CheckSecondFactor(ctx, me, strings.ToUpper(strings.ReplaceAll(codes[0], "-", "")), "192.0.2.1"); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if err := s.CheckSecondFactor(ctx, me, codes[0], "192.0.2.1"); KindOf(err) != Unauthorized {
		t.Fatalf("recovery code twice: %v", err)
	}
	if v, _ := s.SecondFactor(ctx, me); !v.Enabled || v.RecoveryCodesLeft != RecoveryCodeCount-1 {
		t.Fatalf("state %+v", v)
	}
	// New recovery codes need the password and a code; the old ones stop
	// working, the new ones log in once.
	clk.t = clk.t.Add(30 * time.Second)
	if _, err := s.RegenerateRecoveryCodes(ctx, me, "wrong", code(t, e.Secret, clk.t), "192.0.2.1"); !errors.As(err, &f) || f.Fields[0].Field != "current_password" {
		t.Fatalf("new codes with a wrong password: %v", err)
	}
	fresh, err := s.RegenerateRecoveryCodes(ctx, me, pw, code(t, e.Secret, clk.t), "192.0.2.1")
	if err != nil || len(fresh) != RecoveryCodeCount {
		t.Fatalf("new recovery codes: %v, %v", fresh, err)
	}
	if err := s.CheckSecondFactor(ctx, me, codes[2], "192.0.2.1"); KindOf(err) != Unauthorized {
		t.Fatalf("an old recovery code after new ones: %v", err)
	}
	if err := s.CheckSecondFactor(ctx, me, fresh[0], "192.0.2.1"); err != nil {
		t.Fatalf("a new recovery code: %v", err)
	}
	codes = fresh
	// Disabling needs the password and a code.
	sessionOf(t, st, "s2", ad.ID)
	clk.t = clk.t.Add(30 * time.Second)
	if err := s.DisableTOTP(ctx, me, "wrong", code(t, e.Secret, clk.t), "192.0.2.1"); !errors.As(err, &f) || f.Fields[0].Field != "current_password" {
		t.Fatalf("disable with a wrong password: %v", err)
	}
	if err := s.DisableTOTP(ctx, me, pw, "999999", "192.0.2.1"); !errors.As(err, &f) || f.Fields[0].Field != "code" {
		t.Fatalf("disable with a wrong code: %v", err)
	}
	if err := s.DisableTOTP(ctx, me, pw, codes[1], "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.SecondFactor(ctx, me); v.Enabled || sessions(t, st, ad.ID) != 0 {
		t.Fatalf("after disable: %+v, %d sessions", v, sessions(t, st, ad.ID))
	}
	var n int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE object_type = 'second_factor' AND object = 'root'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d audit rows, %v; want enable, new recovery codes and disable", n, err)
	}
}

// A super-admin resets an admin's second factor; a domain admin may not.
// The policy sends admins without one to enrol. A password change ends
// the sessions.
func TestTOTPResetAndPolicy(t *testing.T) {
	ctx := context.Background()
	s, st, clk := newTestService(t)
	pw := "correct horse battery"
	if _, err := s.CreateDomain(ctx, CLI(), DomainInput{Name: new("a.example")}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"root", "alice"} {
		if _, err := s.CreateAdmin(ctx, CLI(), AdminInput{Username: new(u), Password: new(pw), Superadmin: new(u == "root"),
			Domains: &[]string{"a.example"}}); err != nil {
			t.Fatal(err)
		}
	}
	rootRow, _ := st.Read().AdminByUsername(ctx, "root")
	aliceRow, _ := st.Read().AdminByUsername(ctx, "alice")
	root, alice := adminActor(rootRow, ""), adminActor(aliceRow, "")
	e, err := s.BeginTOTP(ctx, alice.Account())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConfirmTOTP(ctx, alice.Account(), code(t, e.Secret, clk.t)); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetAdminTOTP(ctx, alice, "alice"); KindOf(err) != Forbidden {
		t.Fatalf("a domain admin resets its own: %v", err)
	}
	if _, err := s.SetSecurityPolicy(ctx, alice, SecurityPolicyInput{RequireAdminTOTP: new(true)}); KindOf(err) != Forbidden {
		t.Fatalf("a domain admin sets the policy: %v", err)
	}
	if _, err := s.SetSecurityPolicy(ctx, root, SecurityPolicyInput{RequireAdminTOTP: new(true)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a   Actor
		due bool
	}{{root, true}, {alice, false}} {
		if due, err := s.SecondFactorDue(ctx, tc.a); due != tc.due || err != nil {
			t.Errorf("%s: SecondFactorDue = %v, %v; want %v", tc.a.Username, due, err, tc.due)
		}
	}
	sessionOf(t, st, "alice", aliceRow.ID)
	if err := s.ResetAdminTOTP(ctx, root, "alice"); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.SecondFactorDue(ctx, alice); !due || sessions(t, st, aliceRow.ID) != 0 {
		t.Fatalf("after reset: due %v, %d sessions", due, sessions(t, st, aliceRow.ID))
	}
	if err := s.ResetAdminTOTP(ctx, root, "alice"); KindOf(err) != NotFound {
		t.Fatalf("reset of nothing: %v", err)
	}
	sessionOf(t, st, "alice2", aliceRow.ID)
	if _, err := s.UpdateAdmin(ctx, alice, "alice", AdminInput{Password: new("another good password")}); err != nil {
		t.Fatal(err)
	}
	if sessions(t, st, aliceRow.ID) != 0 {
		t.Fatal("a password change left the admin's sessions")
	}
}

// App passwords: named, limited to known protocols, shown once, listed
// with their use, revocable; the admins of the mailbox's domain only.
func TestAppPasswords(t *testing.T) {
	ctx := context.Background()
	s, st, _ := newTestService(t)
	for _, d := range []string{"a.example", "b.example"} {
		if _, err := s.CreateDomain(ctx, CLI(), DomainInput{Name: new(d)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateMailbox(ctx, CLI(), "a.example", MailboxInput{LocalPart: new("user"), Password: new("correct horse battery")}); err != nil {
		t.Fatal(err)
	}
	b, _ := st.Read().DomainByName(ctx, "b.example", false)
	other := Actor{Kind: "admin", AdminID: 99, Username: "bob", DomainIDs: []int64{b.ID}}
	if _, err := s.CreateAppPassword(ctx, other, "user@a.example", AppPasswordInput{Name: new("x"), Protocols: []string{"imap"}}); KindOf(err) != NotFound {
		t.Fatalf("another domain's admin: %v", err)
	}
	var f *ValidationError
	if _, err := s.CreateAppPassword(ctx, CLI(), "user@a.example", AppPasswordInput{Name: new(" "), Protocols: []string{"ftp"}}); !errors.As(err, &f) || len(f.Fields) != 2 {
		t.Fatalf("bad input: %v", err)
	}
	p, err := s.CreateAppPassword(ctx, CLI(), "user@a.example", AppPasswordInput{Name: new("phone"), Protocols: []string{"IMAP", "smtp", "imap"}})
	if err != nil || p.Password == "" || len(p.Protocols) != 2 {
		t.Fatalf("create: %+v, %v", p, err)
	}
	if _, err := s.CreateAppPassword(ctx, CLI(), "user@a.example", AppPasswordInput{Name: new("phone"), Protocols: []string{"pop3"}}); KindOf(err) != Conflict {
		t.Fatalf("same name: %v", err)
	}
	h, _ := auth.AppPasswordHash(p.Password)
	m, _ := st.Read().MailboxByAddress(ctx, "user@a.example", false)
	if ok, err := st.UseAppPassword(ctx, m.ID, h, "imap", "192.0.2.9"); !ok || err != nil {
		t.Fatalf("the secret shown is not the one stored: %v, %v", ok, err)
	}
	l, err := s.AppPasswords(ctx, CLI(), "user@a.example")
	if err != nil || len(l.Items) != 1 || l.Items[0].Password != "" || l.Items[0].LastUsedFrom == nil {
		t.Fatalf("list: %+v, %v", l, err)
	}
	if err := s.RevokeAppPassword(ctx, other, "user@a.example", itoa(int(p.ID))); KindOf(err) != NotFound {
		t.Fatalf("another domain's admin revokes: %v", err)
	}
	if err := s.RevokeAppPassword(ctx, CLI(), "user@a.example", itoa(int(p.ID))); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.UseAppPassword(ctx, m.ID, h, "imap", ""); ok {
		t.Fatal("a revoked app password still works")
	}

	// A new mailbox password ends the owner's panel sessions; a new name
	// does not.
	now := time.Now()
	if err := st.CreateWebSession(ctx, store.WebSession{IDHash: hashToken("owner"), Kind: "user", MailboxID: &m.ID,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	owned := func() int {
		var n int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM web_sessions WHERE mailbox_id = $1`, m.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := s.UpdateMailbox(ctx, CLI(), "user@a.example", MailboxInput{Name: new("User")}); err != nil || owned() != 1 {
		t.Fatalf("rename: %v, %d sessions", err, owned())
	}
	if _, err := s.UpdateMailbox(ctx, CLI(), "user@a.example", MailboxInput{Password: new("another good password")}); err != nil || owned() != 0 {
		t.Fatalf("new password: %v, %d sessions", err, owned())
	}
}

func sessionOf(t *testing.T, st *store.Store, id string, adminID int64) {
	t.Helper()
	now := time.Now()
	if err := st.CreateWebSession(context.Background(), store.WebSession{IDHash: hashToken(id), Kind: "admin", AdminID: &adminID,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

func sessions(t *testing.T, st *store.Store, adminID int64) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM web_sessions WHERE admin_id = $1`, adminID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
