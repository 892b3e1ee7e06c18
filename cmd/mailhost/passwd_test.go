package main

import (
	"strings"
	"testing"

	"mailhost/auth"
	"mailhost/config"
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

// The default configuration hashes with the recommended parameters
// (config.Default explains them), and they are valid for auth.
func TestDefaultHasher(t *testing.T) {
	c := config.Default()
	c.Finish()
	h := hasher(&c)
	if err := h.Validate(); err != nil {
		t.Fatalf("default hasher: %v", err)
	}
	got, err := h.Hash("correct horse")
	if err != nil || !strings.HasPrefix(got, "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default hash = %q, %v", got, err)
	}
	if h.NeedsRehash(got) {
		t.Errorf("a fresh default hash needs a rehash")
	}
}
