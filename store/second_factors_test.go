package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
)

// A TOTP enrolment takes effect only when confirmed, a step is accepted
// once, a recovery code is used once, and ending an account's sessions
// ends its pending logins too.
func TestSecondFactorRows(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t)
	var adminID, mailboxID int64
	if err := st.Pool().QueryRow(ctx, `INSERT INTO admins (username, password) VALUES ('root', 'x') RETURNING id`).Scan(&adminID); err != nil {
		t.Fatal(err)
	}
	if err := st.Pool().QueryRow(ctx, `WITH d AS (INSERT INTO domains (name) VALUES ('example.com') RETURNING id)
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT id, 'alice', 'alice@example.com', '{PLAIN}a', 'example.com/alice/' FROM d RETURNING id`).Scan(&mailboxID); err != nil {
		t.Fatal(err)
	}
	root := store.Principal{AdminID: adminID}
	tx := st.Read()
	if _, err := tx.TOTPOf(ctx, root); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TOTPOf before enrolment: %v", err)
	}
	first, err := tx.BeginTOTP(ctx, root, "JBSWY3DPEHPK3PXP")
	if err != nil || first.ConfirmedAt != nil {
		t.Fatalf("BeginTOTP: %+v, %v", first, err)
	}
	again, err := tx.BeginTOTP(ctx, root, "KRSXG5CTMVRXEZLU")
	if err != nil || again.ID != first.ID || again.Secret != "KRSXG5CTMVRXEZLU" {
		t.Fatalf("BeginTOTP again replaces the pending secret: %+v, %v", again, err)
	}
	if ok, err := tx.AcceptTOTPStep(ctx, again.ID, 100); ok || err != nil {
		t.Fatalf("a pending secret accepted a step: %v, %v", ok, err)
	}
	codes := [][]byte{hash("one"), hash("two")}
	if err := tx.ConfirmTOTP(ctx, again.ID, 100, codes); err != nil {
		t.Fatal(err)
	}
	if err := tx.ConfirmTOTP(ctx, again.ID, 100, codes); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second confirm: %v", err)
	}
	if _, err := tx.BeginTOTP(ctx, root, "JBSWY3DPEHPK3PXP"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("BeginTOTP over a confirmed secret: %v, want ErrConflict", err)
	}
	for _, tc := range []struct {
		step int64
		ok   bool
	}{{100, false}, {99, false}, {101, true}, {101, false}} {
		if ok, err := tx.AcceptTOTPStep(ctx, again.ID, tc.step); ok != tc.ok || err != nil {
			t.Fatalf("AcceptTOTPStep(%d) = %v, %v; want %v", tc.step, ok, err, tc.ok)
		}
	}
	if ok, _ := tx.UseRecoveryCode(ctx, again.ID, hash("one")); !ok {
		t.Fatal("recovery code refused")
	}
	if ok, _ := tx.UseRecoveryCode(ctx, again.ID, hash("one")); ok {
		t.Fatal("recovery code accepted twice")
	}
	if n, err := tx.RecoveryCodesLeft(ctx, again.ID); n != 1 || err != nil {
		t.Fatalf("RecoveryCodesLeft = %d, %v", n, err)
	}

	// The mailbox's credentials say when its owner has a second factor.
	owner := store.Principal{MailboxID: mailboxID}
	s, err := tx.BeginTOTP(ctx, owner, "JBSWY3DPEHPK3PXP")
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := st.MailboxCredentials(ctx, "alice@example.com"); c.SecondFactor {
		t.Fatal("a pending enrolment counts as a second factor")
	}
	if err := tx.ConfirmTOTP(ctx, s.ID, 1, nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.MailboxCredentials(ctx, "alice@example.com"); !c.SecondFactor {
		t.Fatal("credentials do not show the confirmed second factor")
	}

	// Sessions and pending logins of the owner end; the admin's stay.
	t0 := time.Now()
	for i, p := range []store.Principal{root, owner, owner} {
		w := store.WebSession{IDHash: hash(string(rune('a' + i))), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if p.AdminID != 0 {
			w.Kind, w.AdminID = "admin", &p.AdminID
		} else {
			w.Kind, w.MailboxID = "user", &p.MailboxID
		}
		if err := st.CreateWebSession(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	c := store.LoginChallenge{IDHash: hash("challenge"), MailboxID: &mailboxID, Next: "/me", CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	if err := st.CreateLoginChallenge(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := st.LoginChallengeByHash(ctx, c.IDHash, t0); err != nil || got.Principal() != owner || got.Next != "/me" {
		t.Fatalf("LoginChallengeByHash = %+v, %v", got, err)
	}
	if _, err := st.LoginChallengeByHash(ctx, c.IDHash, t0.Add(5*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired challenge: %v", err)
	}
	if n, err := tx.EndWebSessions(ctx, owner); n != 2 || err != nil {
		t.Fatalf("EndWebSessions = %d, %v; want 2", n, err)
	}
	if _, err := st.LoginChallengeByHash(ctx, c.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("challenge after EndWebSessions: %v", err)
	}
	if _, err := st.TouchWebSession(ctx, hash("a"), t0, time.Hour); err != nil {
		t.Fatalf("the admin's session ended too: %v", err)
	}
	if ok, err := tx.DeleteTOTP(ctx, root); !ok || err != nil {
		t.Fatalf("DeleteTOTP = %v, %v", ok, err)
	}

	// The policy row exists from the migration.
	p, err := tx.SecurityPolicy(ctx)
	if err != nil || p.RequireAdminTOTP {
		t.Fatalf("SecurityPolicy = %+v, %v", p, err)
	}
	if p, err = tx.SetSecurityPolicy(ctx, store.SecurityPolicy{RequireAdminTOTP: true}); err != nil || !p.RequireAdminTOTP {
		t.Fatalf("SetSecurityPolicy = %+v, %v", p, err)
	}
}

// An app password opens its mailbox for its protocols only, records its
// use, and is gone once deleted.
func TestAppPasswordRows(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t)
	var mailboxID int64
	if err := st.Pool().QueryRow(ctx, `WITH d AS (INSERT INTO domains (name) VALUES ('example.com') RETURNING id)
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT id, 'alice', 'alice@example.com', '{PLAIN}a', 'example.com/alice/' FROM d RETURNING id`).Scan(&mailboxID); err != nil {
		t.Fatal(err)
	}
	tx := st.Read()
	p, err := tx.InsertAppPassword(ctx, mailboxID, "phone", hash("secret"), []string{"imap", "smtp"})
	if err != nil || p.Address != "alice@example.com" || p.LastUsedAt != nil {
		t.Fatalf("InsertAppPassword = %+v, %v", p, err)
	}
	if _, err := tx.InsertAppPassword(ctx, mailboxID, "phone", hash("other"), []string{"imap"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same name twice: %v", err)
	}
	if _, err := tx.InsertAppPassword(ctx, mailboxID, "laptop", hash("other"), []string{"ftp"}); err == nil {
		t.Fatal("an unknown protocol was stored")
	}
	if ok, err := st.UseAppPassword(ctx, mailboxID, hash("secret"), "pop3", "192.0.2.1"); ok || err != nil {
		t.Fatalf("pop3 with an imap+smtp password: %v, %v", ok, err)
	}
	if ok, err := st.UseAppPassword(ctx, mailboxID, hash("secret"), "imap", "192.0.2.1"); !ok || err != nil {
		t.Fatalf("imap: %v, %v", ok, err)
	}
	ps, err := tx.AppPasswords(ctx, mailboxID)
	if err != nil || len(ps) != 1 || ps[0].LastUsedAt == nil || ps[0].LastUsedFrom == nil || *ps[0].LastUsedFrom != "192.0.2.1" {
		t.Fatalf("AppPasswords = %+v, %v", ps, err)
	}
	if err := tx.DeleteAppPassword(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.UseAppPassword(ctx, mailboxID, hash("secret"), "imap", ""); ok {
		t.Fatal("a deleted app password opened the mailbox")
	}
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
