package auth

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// FuzzVerify checks that Verify, Scheme and NeedsRehash never panic and that
// Verify never reports a match together with an error. The corpus in
// testdata/fuzz/FuzzVerify runs as an ordinary test.
func FuzzVerify(f *testing.F) {
	f.Add("{SSHA}hy4J/v5RHcTTVxS7UOhA9cU6z9wIcvt6", "pässwörd € x")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "secret")
	f.Fuzz(func(t *testing.T, stored, password string) {
		if expensive(stored) {
			t.Skip("costly parameters; not a parser question")
		}
		ok, err := Verify(stored, password)
		if ok && err != nil {
			t.Fatalf("Verify(%q, %q) = true, %v", stored, password, err)
		}
		Scheme(stored)
		recommendedHasher().NeedsRehash(stored)
	})
}

// expensive reports whether verifying against stored would take long
// because of its cost parameters (all legitimate, if slow).
func expensive(stored string) bool {
	p, err := parse(stored)
	if err != nil {
		return false
	}
	s, err := p.decodedString()
	if err != nil {
		return false
	}
	switch p.scheme {
	case SchemeArgon2ID, SchemeArgon2I:
		a, err := parseArgon2(s)
		return err == nil && uint64(a.memoryKiB)*uint64(a.time) > 1<<16
	case SchemeBlfCrypt:
		cost, err := bcrypt.Cost([]byte(s))
		return err == nil && cost > 6
	case SchemeSHA512Crypt, SchemeSHA256Crypt:
		return shaCryptRounds(s) > 20_000
	}
	return false
}
