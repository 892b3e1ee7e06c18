package main

import (
	"strings"
	"testing"

	"mailhost/auth"
)

// `mailhost passwd hash` prints a hash that verifies the password read
// from stdin, in the configured or the requested scheme.
func TestPasswdHash(t *testing.T) {
	env := baseEnv()
	for _, tc := range []struct {
		args   []string
		prefix string
	}{
		{[]string{"passwd", "hash"}, "{ARGON2ID}$argon2id$"},
		{[]string{"passwd", "hash", "--scheme", "blf-crypt"}, "{BLF-CRYPT}$2"},
		{[]string{"passwd", "--scheme", "SHA512-CRYPT", "hash"}, "{SHA512-CRYPT}$6$"},
	} {
		code, out, errOut := mailhost(t, env, "pä ss wörd\nsecond line\n", tc.args...)
		hash := strings.TrimSpace(out)
		if code != 0 || !strings.HasPrefix(hash, tc.prefix) {
			t.Fatalf("%v = %d %q %q", tc.args, code, out, errOut)
		}
		if ok, err := auth.Verify(hash, "pä ss wörd"); !ok || err != nil {
			t.Errorf("%s does not verify the password: %v", hash, err)
		}
		if ok, _ := auth.Verify(hash, "pä ss wörd\nsecond line"); ok {
			t.Errorf("%s took more than the first line", hash)
		}
	}
	if code, _, errOut := mailhost(t, env, "", "passwd", "hash"); code != 1 || !strings.Contains(errOut, "empty password") {
		t.Errorf("empty stdin = %d %q", code, errOut)
	}
	if code, _, errOut := mailhost(t, env, "x\n", "passwd", "hash", "--scheme", "MD5"); code != 1 || !strings.Contains(errOut, "MD5") {
		t.Errorf("unknown scheme = %d %q", code, errOut)
	}
}
