package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An invalid value fails at start with a message naming the key and what
// is allowed, and exit status 1.
func TestServeRefusesInvalidConfig(t *testing.T) {
	env := baseEnv("MAILHOST_DATA_DIR="+dataDir(t), "MAILHOST_SMTP_MESSAGE_SIZE_LIMIT=-1")
	code, _, errOut := mailhost(t, env, "", "serve")
	if code != 1 || !strings.Contains(errOut, "smtp.message_size_limit") || !strings.Contains(errOut, "positive number of bytes") {
		t.Fatalf("serve = %d %q", code, errOut)
	}
	if strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("error is not one line: %q", errOut)
	}
}

func TestConfigPrintAndCheck(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mailhost.toml")
	if err := os.WriteFile(file, []byte("hostname = \"mx.example.test\"\n[smtp]\nrelayhost = \"[smtp.example.net]:587\"\nrelayhost_username = \"u\"\nrelayhost_password = \"hunter2\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := baseEnv("DATABASE_URL=postgres://mail:s3cret@db.example.test/mail")
	code, out, errOut := mailhost(t, env, "", "config", "--config", file, "--log-level", "debug")
	if code != 0 {
		t.Fatalf("config = %d %q", code, errOut)
	}
	for _, w := range []string{`hostname = "mx.example.test"`, `log.level = "debug"`,
		`database.url = "postgres://mail:REDACTED@db.example.test/mail"`, `smtp.relayhost_password = "REDACTED"`,
		`listen.smtp = "off"`, `smtp.message_size_limit = 10240000`} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %s:\n%s", w, out)
		}
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, "s3cret") {
		t.Fatalf("secret printed:\n%s", out)
	}
	code, out, _ = mailhost(t, env, "", "config", "check", "--config", file)
	if code != 0 || !strings.Contains(out, "configuration ok") {
		t.Fatalf("config check = %d %q", code, out)
	}
	code, _, errOut = mailhost(t, env, "", "config", "check", "--config", file, "--log-format", "xml")
	if code != 1 || !strings.Contains(errOut, "log.format (from --log-format)") {
		t.Fatalf("config check with a bad flag = %d %q", code, errOut)
	}
	code, _, errOut = mailhost(t, env, "", "nonsense")
	if code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown command = %d %q", code, errOut)
	}
}

// config check names every problem on a line of its own: unknown keys,
// values of the wrong type in the file and
// values out of range, not only the first one.
func TestConfigCheckReportsEveryProblem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mailhost.toml")
	os.WriteFile(file, []byte("hostnme = \"typo\"\n[smtp]\nmessage_size_limit = \"big\"\n[listen]\nimap = 143\n[auth]\nmax_failures = -3\n[nosuch]\nx = 1\n"), 0o600)
	env := baseEnv()
	code, out, errOut := mailhost(t, env, "", "config", "check", "--config", file)
	if code != 1 || out != "" {
		t.Fatalf("config check = %d %q %q", code, out, errOut)
	}
	for _, want := range []string{
		"config: hostnme (from " + file + "): unknown key\n",
		"config: nosuch (from " + file + "): unknown key\n",
		"config: smtp.message_size_limit (from " + file + "): must be a whole number\n",
		"config: listen.imap (from " + file + "): must be a string (in quotes)\n",
		"config: auth.max_failures (from " + file + "): must be from 1 to 1000000, got -3\n",
		"5 problems in the configuration",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("missing %q in:\n%s", want, errOut)
		}
	}
}
