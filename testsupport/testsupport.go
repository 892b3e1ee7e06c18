// Package testsupport holds what tests of several packages share besides a
// database (package testdb): finding the real clients and peers they drive,
// and waiting for an event instead of sleeping.
package testsupport

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// RequireTool returns the path of prog (a name looked up on PATH, or an
// absolute path), the client or peer a test drives. When it is missing
// the test is skipped, except under CI (the CI variable set to anything):
// there it fails, naming the Debian package to install, since a skip
// would let a machine without the client pass the suite unseen.
func RequireTool(t testing.TB, prog, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err == nil {
		return p
	}
	Missing(t, prog, debianPackage)
	return ""
}

// Missing skips t, or fails it under CI, because prog of debianPackage is
// not installed. RequireTool calls it; a test that looks prog up its own
// way (several candidate names) calls it when none is found.
func Missing(t testing.TB, prog, debianPackage string) {
	t.Helper()
	msg := prog + " not found: install the Debian package " + debianPackage + " (make setup)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Eventually calls cond until it returns true and fails t with what when
// that has not happened within timeout. The timeout bounds a wait for an
// event, it is not a timing assertion: choose it generous, for a loaded
// machine.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("gave up after %v waiting for %s", timeout, what)
	}
}

// Poll calls cond until it returns true (then Poll returns true) or
// timeout has passed (then false). It checks at once, then at growing
// intervals of at most 100 ms.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}
