package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailhost/testdb"
)

// provEnv is the environment of provisioning commands against a fresh
// database: cheap password hashes, a data directory of its own.
func provEnv(t *testing.T) ([]string, string) {
	t.Helper()
	dir := dataDir(t)
	return baseEnv("DATABASE_URL="+testdb.New(t), "MAILHOST_DATA_DIR="+dir,
		"MAILHOST_PASSWORD_ARGON2_TIME=1", "MAILHOST_PASSWORD_ARGON2_MEMORY_KIB=64"), dir
}

func run1(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	code, out, errs := mailhost(t, env, stdin, args...)
	if code != 0 {
		t.Fatalf("mailhost %s: exit %d: %s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func TestProvisioningCommands(t *testing.T) {
	env, dir := provEnv(t)

	out := run1(t, env, "", "domain", "add", "bücher.example", "--max-mailboxes", "3", "--max-quota", "1G", "--description", "books")
	if !strings.Contains(out, "xn--bcher-kva.example") || !strings.Contains(out, "bücher.example") {
		t.Fatalf("domain add: %s", out)
	}
	// Flags before the arguments work as well as after.
	run1(t, env, "", "domain", "--kind", "relay", "add", "relay.example", "--relay-to", "[mx.example.net]:2525")

	// A generated password, shown once.
	out = run1(t, env, "", "mailbox", "add", "alice@bücher.example", "--name", "Alice")
	if !strings.Contains(out, "password:") {
		t.Fatalf("mailbox add without a password shows none: %s", out)
	}
	run1(t, env, "secret password\n", "mailbox", "add", "--password-stdin", "bob@xn--bcher-kva.example", "--quota", "100M")
	if _, err := os.Stat(filepath.Join(dir, "vmail", "xn--bcher-kva.example", "bob", ".Sent", "cur")); err != nil {
		t.Fatalf("Maildir: %v", err)
	}

	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(run1(t, env, "", "mailbox", "list", "bücher.example", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 || list.Items[1]["quota_bytes"] != float64(100<<20) {
		t.Fatalf("mailbox list: %v", list)
	}
	out = run1(t, env, "", "mailbox", "list", "bücher.example", "--q", "ali")
	if !strings.Contains(out, "ADDRESS") || !strings.Contains(out, "alice@") || strings.Contains(out, "bob@") {
		t.Fatalf("mailbox list --q: %s", out)
	}
	run1(t, env, "", "mailbox", "update", "bob@bücher.example", "--name", "Bob", "--active=false")
	out = run1(t, env, "", "mailbox", "show", "bob@bücher.example", "--json")
	if !strings.Contains(out, `"name": "Bob"`) || !strings.Contains(out, `"active": false`) {
		t.Fatalf("mailbox show: %s", out)
	}
	run1(t, env, "another password\n", "mailbox", "passwd", "bob@bücher.example", "--password-stdin")

	run1(t, env, "", "alias", "add", "info@bücher.example", "alice@bücher.example", "bob@bücher.example")
	run1(t, env, "", "alias", "add", "@bücher.example", "alice@bücher.example")
	out = run1(t, env, "", "alias", "list", "bücher.example")
	if !strings.Contains(out, "info@xn--bcher-kva.example") || !strings.Contains(out, "@xn--bcher-kva.example ") {
		t.Fatalf("alias list: %s", out)
	}
	run1(t, env, "", "alias", "del", "@bücher.example")

	out = run1(t, env, "", "domain", "list")
	if !strings.Contains(out, "2/3") || !strings.Contains(out, "relay") {
		t.Fatalf("domain list: %s", out)
	}

	// Admins and a token that works against serve's API.
	run1(t, env, "admin password\n", "admin", "add", "root", "--super", "--password-stdin")
	run1(t, env, "admin password\n", "admin", "add", "alice@bücher.example", "--domain", "bücher.example", "--password-stdin")
	out = run1(t, env, "", "admin", "list")
	if !strings.Contains(out, "root") || !strings.Contains(out, "xn--bcher-kva.example") {
		t.Fatalf("admin list: %s", out)
	}
	tok := strings.TrimSpace(run1(t, env, "", "token", "create", "root", "--name", "ci"))
	if !strings.HasPrefix(tok, "mh_") || strings.ContainsAny(tok, " \n") {
		t.Fatalf("token create printed %q, want only the token", tok)
	}
	srv := startServe(t, env)
	req, _ := http.NewRequest("GET", "http://"+srv.http+"/api/v1/domains/b%C3%BCcher.example/mailboxes", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "alice@xn--bcher-kva.example") {
		t.Fatalf("API with the CLI's token: %d %s", res.StatusCode, body)
	}
	res, err = http.Get("http://" + srv.http + "/api/v1/openapi.json")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("openapi.json through serve: %v %v", res, err)
	}
	res.Body.Close()
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exit %d", code)
	}

	// Delete: refused with mailboxes, forced moves the Maildirs to retention.
	code, _, errs := mailhost(t, env, "", "domain", "del", "bücher.example")
	if code != 1 || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, "force") {
		t.Fatalf("domain del with mailboxes: exit %d, %q", code, errs)
	}
	run1(t, env, "", "mailbox", "del", "bob@bücher.example", "--purge")
	run1(t, env, "", "domain", "del", "bücher.example", "--force")
	ents, _ := filepath.Glob(filepath.Join(dir, "retention", "xn--bcher-kva.example", "alice-*"))
	if len(ents) != 1 {
		t.Fatalf("retained Maildirs: %v", ents)
	}
	if b, _ := filepath.Glob(filepath.Join(dir, "retention", "xn--bcher-kva.example", "bob-*")); len(b) != 0 {
		t.Fatalf("purged Maildir retained: %v", b)
	}
	out = run1(t, env, "", "mailbox", "purge-retained")
	if !strings.Contains(out, "purged 0") {
		t.Fatalf("purge-retained before the time: %s", out)
	}
	out = run1(t, append(env, "MAILHOST_MAILBOX_RETENTION_DAYS=0"), "", "mailbox", "purge-retained")
	if !strings.Contains(out, "purged 0") { // the purge time was fixed at delete
		t.Fatalf("purge-retained: %s", out)
	}
}

func TestProvisioningErrors(t *testing.T) {
	env, _ := provEnv(t)
	for _, tc := range []struct {
		args   []string
		stdin  string
		code   int
		stderr string
	}{
		{[]string{"domain", "add", "bad domain"}, "", 1, "name:"},
		{[]string{"domain", "show", "nowhere.example"}, "", 1, "no domain"},
		{[]string{"domain", "add", "x.example", "--max-quota", "lots"}, "", 2, "max-quota"},
		{[]string{"domain", "list", "--force"}, "", 2, "does not take --force"},
		{[]string{"domain", "frobnicate", "x.example"}, "", 2, "unknown subcommand"},
		{[]string{"mailbox", "add", "alice@nowhere.example", "--password-stdin"}, "password1\n", 1, "no domain"},
		{[]string{"mailbox", "passwd", "alice@nowhere.example"}, "", 2, "--password-stdin"},
		{[]string{"mailbox", "add", "alice@x.example", "--password-stdin"}, "", 1, "empty password"},
		{[]string{"admin", "add", "bob"}, "", 2, "--password-stdin"},
		{[]string{"token", "create", "nobody", "--name", "x"}, "", 1, "admin"},
		{[]string{"token", "create", "nobody"}, "", 2, "--name"},
	} {
		code, out, errs := mailhost(t, env, tc.stdin, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.stderr) || out != "" {
			t.Errorf("mailhost %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, out, errs, tc.code, tc.stderr)
		}
		if tc.code == 1 && strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("mailhost %s: error is not one line: %q", strings.Join(tc.args, " "), errs)
		}
	}
}
