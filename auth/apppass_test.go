package auth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhost/store"
)

// appCreds is a memCreds with app passwords: hash -> protocols.
type appCreds struct {
	memCreds
	amu  sync.Mutex
	apps map[string][]string
	used []string // "protocol from" of each accepted use
}

func (m *appCreds) UseAppPassword(_ context.Context, _ int64, hash []byte, protocol, from string) (bool, error) {
	m.amu.Lock()
	defer m.amu.Unlock()
	if slices.Contains(m.apps[string(hash)], protocol) {
		m.used = append(m.used, protocol+" "+from)
		return true, nil
	}
	return false, nil
}

func TestAppPasswordShape(t *testing.T) {
	p := NewAppPassword()
	if len(p) != 27 || strings.Count(p, "-") != 3 {
		t.Fatalf("NewAppPassword = %q", p)
	}
	h, ok := AppPasswordHash(p)
	if !ok {
		t.Fatalf("%q is not an app password", p)
	}
	// Copied without dashes, in upper case or with spaces: the same.
	for _, v := range []string{strings.ReplaceAll(p, "-", ""), strings.ToUpper(p), strings.ReplaceAll(p, "-", " ")} {
		if h2, ok := AppPasswordHash(v); !ok || !bytes.Equal(h, h2) {
			t.Errorf("%q: not the same app password", v)
		}
	}
	for _, v := range []string{"", "secret", p + "a", strings.Replace(p, p[:1], "1", 1)} {
		if _, ok := AppPasswordHash(v); ok {
			t.Errorf("%q taken for an app password", v)
		}
	}
}

// An app password opens its mailbox for its protocols, never the panel;
// an owner with a second factor logs in to mail protocols with app
// passwords only, and to the panel with the mailbox password.
func TestLoginWithAppPassword(t *testing.T) {
	h := cheap(SchemeArgon2ID)
	pw, err := h.Hash("secret")
	if err != nil {
		t.Fatal(err)
	}
	app := NewAppPassword()
	ah, _ := AppPasswordHash(app)
	creds := &appCreds{memCreds: memCreds{byAddr: map[string]store.Credential{
		"alice@example.com": {MailboxID: 1, Address: "alice@example.com", Password: pw, Active: true},
		"totp@example.com":  {MailboxID: 2, Address: "totp@example.com", Password: pw, Active: true, SecondFactor: true},
	}}, apps: map[string][]string{string(ah): {ProtoIMAP, ProtoSMTP}}}
	a, err := NewAuthenticator(creds, Options{Hasher: h, Clock: newFakeClock(),
		Throttle: ThrottleConfig{MaxFailures: 100, Block: time.Minute, Delay: time.Millisecond},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, pw, proto string
		ok              bool
	}{
		{"alice@example.com", app, ProtoIMAP, true},
		{"alice@example.com", app, ProtoSMTP, true},
		{"alice@example.com", app, ProtoPOP3, false}, // outside its scope
		{"alice@example.com", app, ProtoWeb, false},  // never the panel
		{"alice@example.com", "secret", ProtoPOP3, true},
		{"totp@example.com", "secret", ProtoIMAP, false}, // second factor on: app passwords only
		{"totp@example.com", "secret", ProtoWeb, true},   // the panel asks the code next
		{"totp@example.com", app, ProtoIMAP, true},       // the fake's password is every mailbox's
	} {
		_, err := a.Login(context.Background(), LoginRequest{Username: tc.user, Password: tc.pw, RemoteIP: client, Protocol: tc.proto})
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%s with %q over %s: %v, want ok %v", tc.user, tc.pw, tc.proto, err, tc.ok)
		}
	}
	if want := []string{"imap 192.0.2.7", "smtp 192.0.2.7", "imap 192.0.2.7"}; !slices.Equal(creds.used, want) {
		t.Errorf("uses recorded %q, want %q", creds.used, want)
	}
	// The mailbox's own hash is never rehashed with an app password.
	if creds.stored("alice@example.com") != pw {
		t.Error("the mailbox password changed")
	}
}
