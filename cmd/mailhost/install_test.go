package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mailhost/testsupport"
)

// make install puts the binary, a hardened systemd unit that
// systemd-analyze accepts, the vmail account's sysusers.d entry and an
// example configuration that `config check` accepts; a second install
// keeps the operator's configuration.
func TestMakeInstall(t *testing.T) {
	mk := testsupport.RequireTool(t, "make", "make")
	analyze := testsupport.RequireTool(t, "systemd-analyze", "systemd")
	root := t.TempDir()
	install := func() {
		t.Helper()
		cmd := exec.Command(mk, "-s", "-C", "../..", "install", "PREFIX="+root, "SYSCONFDIR="+root+"/etc",
			"BIN="+filepath.Join(root, "build", "mailhost"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make install: %v\n%s", err, out)
		}
	}
	install()
	unit := filepath.Join(root, "lib/systemd/system/mailhost.service")
	if out, err := exec.Command(analyze, "verify", unit).CombinedOutput(); err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	text := read(t, unit)
	for _, want := range []string{
		"ExecStart=" + root + "/bin/mailhost serve --config " + root + "/etc/mailhost/mailhost.toml",
		"User=vmail", "ProtectSystem=strict", "ReadWritePaths=/var/lib/mailhost",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
		"NoNewPrivileges=yes", "PrivateTmp=yes", "ExecReload=/bin/kill -HUP $MAINPID",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("the unit lacks %q", want)
		}
	}
	if s := read(t, filepath.Join(root, "lib/sysusers.d/mailhost.conf")); !strings.Contains(s, "u vmail 5000:5000") {
		t.Errorf("sysusers.d entry:\n%s", s)
	}
	conf := filepath.Join(root, "etc/mailhost/mailhost.toml")
	out, err := exec.Command(filepath.Join(root, "bin/mailhost"), "config", "check", "--config", conf).CombinedOutput()
	if err != nil {
		t.Fatalf("config check of the example: %v\n%s", err, out)
	}
	if err := os.WriteFile(conf, []byte("hostname = \"mx.example.org\"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	install()
	if s := read(t, conf); s != "hostname = \"mx.example.org\"\n" {
		t.Errorf("a second install changed the configuration:\n%s", s)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// `mailhost` alone is a usage error (exit 2, the list of commands on
// stderr); `version` and `--version` print the version, the commit and
// the Go version.
func TestVersionAndNoCommand(t *testing.T) {
	code, out, errOut := mailhost(t, nil, "")
	if code != 2 || out != "" || !strings.Contains(errOut, "usage: mailhost COMMAND") {
		t.Errorf("no command: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, arg := range []string{"version", "--version"} {
		code, out, _ := mailhost(t, nil, "", arg)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "mailhost ") ||
			!strings.HasPrefix(lines[1], "commit ") || !strings.HasPrefix(lines[2], "go1.") {
			t.Errorf("%s: exit %d:\n%s", arg, code, out)
		}
	}
}
