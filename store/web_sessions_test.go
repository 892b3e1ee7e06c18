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

func TestWebSessions(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t)
	var adminID int64
	if err := st.Pool().QueryRow(ctx, `INSERT INTO admins (username, password) VALUES ('root', 'x') RETURNING id`).Scan(&adminID); err != nil {
		t.Fatal(err)
	}
	has, err := st.Read().AnyAdmin(ctx)
	if err != nil || !has {
		t.Fatalf("AnyAdmin = %v, %v; want true", has, err)
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	h := sha256.Sum256([]byte("session-id"))
	idle := 30 * time.Minute
	if err := st.CreateWebSession(ctx, store.WebSession{IDHash: h[:], Kind: "admin", AdminID: &adminID,
		RemoteAddr: "127.0.0.1", CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Used every 20 minutes it lives until its absolute expiry.
	for i := 1; i <= 5; i++ {
		w, err := st.TouchWebSession(ctx, h[:], t0.Add(time.Duration(i)*20*time.Minute), idle)
		if err != nil || w.AdminID == nil || *w.AdminID != adminID || w.Kind != "admin" {
			t.Fatalf("touch %d: %+v, %v", i, w, err)
		}
	}
	if _, err := st.TouchWebSession(ctx, h[:], t0.Add(2*time.Hour), idle); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("touch at expiry: %v, want ErrNotFound", err)
	}
	// Idle for longer than idle: gone, and swept.
	h2 := sha256.Sum256([]byte("other"))
	if err := st.CreateWebSession(ctx, store.WebSession{IDHash: h2[:], Kind: "admin", AdminID: &adminID,
		CreatedAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.TouchWebSession(ctx, h2[:], t0.Add(31*time.Minute), idle); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("touch after idle: %v, want ErrNotFound", err)
	}
	n, err := st.DeleteExpiredWebSessions(ctx, t0.Add(3*time.Hour), idle)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredWebSessions = %d, %v; want 2", n, err)
	}
	// Deleting the admin deletes its sessions; a session names its subject.
	h3 := sha256.Sum256([]byte("third"))
	if err := st.CreateWebSession(ctx, store.WebSession{IDHash: h3[:], Kind: "admin", AdminID: &adminID,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateWebSession(ctx, store.WebSession{IDHash: h2[:], Kind: "user", AdminID: &adminID,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err == nil {
		t.Fatal("a user session naming an admin was stored")
	}
	if _, err := st.Pool().Exec(ctx, `DELETE FROM admins WHERE id = $1`, adminID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.TouchWebSession(ctx, h3[:], t0.Add(time.Minute), idle); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session of a deleted admin: %v, want ErrNotFound", err)
	}
	if err := st.DeleteWebSession(ctx, h3[:]); err != nil {
		t.Fatal(err)
	}
}
