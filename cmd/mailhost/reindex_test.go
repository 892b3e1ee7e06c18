package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReindexCommand(t *testing.T) {
	env, dir := provEnv(t)
	run1(t, env, "", "domain", "add", "example.test")
	run1(t, env, "secret password\n", "mailbox", "add", "--password-stdin", "bob@example.test")
	box := filepath.Join(dir, "vmail", "example.test", "bob")
	msg := "Subject: dropped in\n\nhello\n"
	if err := os.WriteFile(filepath.Join(box, "new", "1700000000.x.host"), []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(box, ".Sent", "cur", "1700000001.y.host:2,S"), []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run1(t, env, "", "reindex", "bob@example.test")
	if !strings.Contains(out, "bob@example.test: 6 folders (+0 -0), messages kept 0, added 2, removed 0; usage 54 bytes, 2 messages") {
		t.Fatalf("reindex: %s", out)
	}
	// Again: nothing changes, the UIDs are kept.
	out = run1(t, env, "", "reindex")
	if !strings.Contains(out, "messages kept 2, added 0, removed 0") {
		t.Fatalf("second reindex: %s", out)
	}
	if code, _, errs := mailhost(t, env, "", "reindex", "nobody@example.test"); code != 1 || !strings.Contains(errs, "no mailbox") {
		t.Fatalf("reindex of an unknown mailbox: exit %d, %s", code, errs)
	}
}
