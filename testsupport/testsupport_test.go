package testsupport

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A missing program skips the test, or fails it under CI with the package
// to install. The test runs itself as a child to see that outcome.
func TestRequireToolMissing(t *testing.T) {
	if os.Getenv("TESTSUPPORT_CHILD") != "" {
		RequireTool(t, "mailhost-no-such-program", "no-such-package")
		t.Fatal("RequireTool returned for a missing program")
	}
	const want = "mailhost-no-such-program not found: install the Debian package no-such-package (make setup)"
	for _, ci := range []string{"", "true"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRequireToolMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTSUPPORT_CHILD=1", "CI="+ci)
		out, err := cmd.CombinedOutput()
		outcome := "--- SKIP"
		if ci != "" {
			outcome = "--- FAIL"
		}
		if (err != nil) != (ci != "") || !strings.Contains(string(out), outcome) || !strings.Contains(string(out), want) {
			t.Errorf("CI=%q: %v\n%s", ci, err, out)
		}
	}
}

func TestRequireToolFound(t *testing.T) {
	if p := RequireTool(t, "go", "golang"); p == "" {
		t.Fatal("no path for go")
	}
}

func TestPoll(t *testing.T) {
	n := 0
	if !Poll(time.Minute, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("Poll stopped after %d calls", n)
	}
	if Poll(20*time.Millisecond, func() bool { return false }) {
		t.Error("Poll reported a condition that never held")
	}
}
