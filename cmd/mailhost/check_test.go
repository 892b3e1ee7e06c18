package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckCommand: check reports an index row whose file is gone (and
// not a file that may be in flight), exits 1; --repair fixes it; check
// then exits 0 with "no differences".
func TestCheckCommand(t *testing.T) {
	env, dir := provEnv(t)
	run1(t, env, "", "domain", "add", "example.test")
	run1(t, env, "secret password\n", "mailbox", "add", "--password-stdin", "bob@example.test")
	box := filepath.Join(dir, "vmail", "example.test", "bob")
	msg := "Subject: hello\n\nhello\n"
	kept := filepath.Join(box, "new", "1700000000.M1P999999999Q1.other,S=22")
	lost := filepath.Join(box, "new", "1700000000.M1P999999999Q2.other,S=22")
	for _, p := range []string{kept, lost} {
		if err := os.WriteFile(p, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run1(t, env, "", "reindex", "bob@example.test") // both indexed
	if err := os.Remove(lost); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(box, "cur", "1700000000.M1P999999999Q3.other,S=22:2,S")
	if err := os.WriteFile(orphan, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The file of another host, changed just now, may belong to a
	// delivery in flight there: not a difference (yet).
	code, out, errs := mailhost(t, env, "", "check")
	if code != 1 || !strings.Contains(out, "index row without file: 1700000000.M1P999999999Q2.other,S=22") ||
		strings.Contains(out, "Q3.other") || !strings.Contains(errs, "1 differences found") {
		t.Fatalf("check: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = mailhost(t, env, "", "check", "--repair", "bob@example.test")
	if code != 0 || !strings.Contains(out, "(repaired)") {
		t.Fatalf("check --repair: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = mailhost(t, env, "", "check")
	if code != 0 || !strings.Contains(out, "no differences") {
		t.Fatalf("check after repair: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := mailhost(t, env, "", "check", "nobody@example.test"); code != 1 || !strings.Contains(errs, "no mailbox") {
		t.Fatalf("check of an unknown mailbox: exit %d, %s", code, errs)
	}
}
