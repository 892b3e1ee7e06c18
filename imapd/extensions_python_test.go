package imapd_test

import (
	"slices"
	"strings"
	"testing"

	"mailhost/testsupport"
)

// TestPythonExtensions runs testdata/extensions.py: Python's imaplib (and
// a raw socket where imaplib cannot say the command) exercises every
// capability the server advertises, before and after login, and fails
// for one advertised without a case, so a new capability comes with its
// client test.
func TestPythonExtensions(t *testing.T) {
	py := testsupport.RequireTool(t, "python3", "python3")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 10<<20)
	out := run(t, py, "testdata/extensions.py", port(e.nodes[0].addr))
	var caps []string
	checked := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "CAPS "), strings.HasPrefix(line, "PRECAPS "):
			_, list, _ := strings.Cut(line, " ")
			caps = append(caps, strings.Fields(list)...)
		case strings.HasPrefix(line, "FAIL "):
			if why := knownExtensionBug(line); why != "" {
				t.Logf("known bug, %s: %s", why, line)
				cap, _, _ := strings.Cut(strings.TrimPrefix(line, "FAIL "), ":")
				checked[cap] = true
				continue
			}
			t.Error(line)
		case strings.HasPrefix(line, "ok "):
			cap, _, _ := strings.Cut(strings.TrimPrefix(line, "ok "), ":")
			checked[cap] = true
		}
	}
	if !strings.Contains(out, "DONE failures=") {
		t.Errorf("the script did not finish:\n%s", out)
	}
	if len(caps) == 0 {
		t.Errorf("no capabilities read:\n%s", out)
	}
	slices.Sort(caps)
	for _, c := range slices.Compact(caps) {
		if !checked[c] {
			t.Errorf("capability %s advertised but not checked", c)
		}
	}
	for prefix := range knownExtensionBugs {
		if strings.Contains(out, "ok "+prefix) {
			t.Logf("known bug %q no longer fails: remove it from knownExtensionBugs", prefix)
		}
	}
	t.Log(out)
}

// knownExtensionBugs are checks of extensions.py that fail on this branch
// for a bug fixed elsewhere, by the prefix of their line after "FAIL ".
// Remove an entry once the fix is merged: the test logs when one passes.
var knownExtensionBugs = map[string]string{}

func knownExtensionBug(line string) string {
	for prefix, why := range knownExtensionBugs {
		if strings.HasPrefix(strings.TrimPrefix(line, "FAIL "), prefix) {
			return why
		}
	}
	return ""
}
