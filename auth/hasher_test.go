package auth

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// recommendedHasher is the configuration's default (config.Default's
// password.* keys, where the choice is explained).
func recommendedHasher() Hasher {
	return Hasher{
		Scheme:            SchemeArgon2ID,
		Argon2Time:        2,
		Argon2MemoryKiB:   19456,
		Argon2Threads:     1,
		BcryptCost:        10,
		SHA512CryptRounds: 100_000,
	}
}

// cheap returns a valid Hasher for scheme with the lowest costs, to keep
// tests fast.
func cheap(scheme string) Hasher {
	return Hasher{
		Scheme:            scheme,
		Argon2Time:        1,
		Argon2MemoryKiB:   64,
		Argon2Threads:     1,
		BcryptCost:        bcrypt.MinCost,
		SHA512CryptRounds: minSHACryptRounds,
	}
}

func TestHashVerifyRoundtrip(t *testing.T) {
	for _, tc := range []struct {
		h    Hasher
		want *regexp.Regexp
	}{
		{recommendedHasher(), regexp.MustCompile(`^\{ARGON2ID\}\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)},
		{cheap("argon2id"), regexp.MustCompile(`^\{ARGON2ID\}\$argon2id\$v=19\$m=64,t=1,p=1\$`)},
		{Hasher{Scheme: SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 256, Argon2Threads: 4}, regexp.MustCompile(`^\{ARGON2ID\}\$argon2id\$v=19\$m=256,t=1,p=4\$`)},
		{cheap(SchemeBlfCrypt), regexp.MustCompile(`^\{BLF-CRYPT\}\$2y\$04\$[./A-Za-z0-9]{53}$`)},
		{cheap(SchemeSHA512Crypt), regexp.MustCompile(`^\{SHA512-CRYPT\}\$6\$rounds=1000\$[A-Z2-7]{16}\$[./A-Za-z0-9]{86}$`)},
	} {
		for _, pw := range []string{"password", "pässwörd € x", " spaces ", "日本語のパスワード"} {
			stored, err := tc.h.Hash(pw)
			if err != nil {
				t.Fatalf("%+v Hash: %v", tc.h, err)
			}
			if !tc.want.MatchString(stored) {
				t.Errorf("Hash = %q, want match for %v", stored, tc.want)
			}
			if ok, err := Verify(stored, pw); !ok || err != nil {
				t.Errorf("Verify(%q, %q) = %v, %v; want true", stored, pw, ok, err)
			}
			if ok, err := Verify(stored, pw+" "); ok || err != nil {
				t.Errorf("Verify(%q, wrong) = %v, %v; want false", stored, ok, err)
			}
			if tc.h.NeedsRehash(stored) {
				t.Errorf("NeedsRehash(own hash %q) = true", stored)
			}
			again, _ := tc.h.Hash(pw)
			if again == stored {
				t.Errorf("two hashes of %q are equal: salt not random", pw)
			}
		}
	}
}

func TestHashErrors(t *testing.T) {
	for _, h := range []Hasher{
		{},
		{Scheme: "SSHA512"},
		{Scheme: "PLAIN"},
		{Scheme: SchemeArgon2ID},
		{Scheme: SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 16, Argon2Threads: 4},
		{Scheme: SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 1 << 30, Argon2Threads: 1},
		{Scheme: SchemeBlfCrypt, BcryptCost: 3},
		{Scheme: SchemeBlfCrypt, BcryptCost: 32},
		{Scheme: SchemeSHA512Crypt, SHA512CryptRounds: 999},
	} {
		if err := h.Validate(); err == nil {
			t.Errorf("%+v: Validate = nil, want error", h)
		}
		if s, err := h.Hash("pw"); err == nil || !strings.HasPrefix(err.Error(), "auth: ") {
			t.Errorf("%+v: Hash = %q, %v; want auth: error", h, s, err)
		}
		if h.NeedsRehash("{PLAIN}pw") {
			t.Errorf("%+v: invalid hasher asks for a rehash", h)
		}
	}
	if err := recommendedHasher().Validate(); err != nil {
		t.Errorf("recommendedHasher().Validate() = %v", err)
	}
	long := strings.Repeat("x", 73)
	if _, err := cheap(SchemeBlfCrypt).Hash(long); !errors.Is(err, bcrypt.ErrPasswordTooLong) {
		t.Errorf("BLF-CRYPT Hash(73 bytes) error = %v, want ErrPasswordTooLong", err)
	}
}

func TestNeedsRehash(t *testing.T) {
	def := recommendedHasher()
	blf := recommendedHasher()
	blf.Scheme = SchemeBlfCrypt
	sha := recommendedHasher()
	sha.Scheme = SchemeSHA512Crypt
	const (
		salt = "$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
		bc   = "XhBuiR.CO0H.SeFm6KQRqeRXTSOKNLN1pD9CIvS0rMDN1Jd45Kl96"
		s6   = "$abcdefgh$4TrI6cXa4n9N0SC1fS0MHCSOjLGo8LvKKddTcWCgNfCi7WcWMCAoAaYAPNlItHgu68UaJgvsZH7rlRtu1l5rW/"
	)
	for _, tc := range []struct {
		name   string
		h      Hasher
		stored string
		want   bool
	}{
		{"argon2id same", def, "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1" + salt, false},
		{"argon2id bare same", def, "$argon2id$v=19$m=19456,t=2,p=1" + salt, false},
		{"argon2id lowercase prefix", def, "{argon2id}$argon2id$v=19$m=19456,t=2,p=1" + salt, false},
		{"argon2id doveadm stronger", def, "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1" + salt, false},
		{"argon2id more threads", def, "$argon2id$v=19$m=19456,t=2,p=4" + salt, false},
		{"argon2id less memory", def, "$argon2id$v=19$m=4096,t=3,p=1" + salt, true},
		{"argon2id fewer passes", def, "$argon2id$v=19$m=47104,t=1,p=1" + salt, true},
		{"argon2i", def, "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1" + salt, true},
		{"bcrypt for argon2id", def, "{BLF-CRYPT}$2y$12$" + bc, true},
		{"sha512-crypt for argon2id", def, "{SHA512-CRYPT}$6$rounds=500000" + s6, true},
		{"ssha512", def, "{SSHA512}ZGVhZGJlZWY=", true},
		{"plain", def, "{PLAIN}secret", true},
		{"unknown", def, "secret", true},
		{"malformed argon2id", def, "$argon2id$v=19$m=19456,t=2,p=1$x", true},

		{"bcrypt same cost", blf, "{BLF-CRYPT}$2y$10$" + bc, false},
		{"bcrypt higher cost", blf, "$2b$13$" + bc, false},
		{"bcrypt doveadm default cost", blf, "{BLF-CRYPT}$2y$05$" + bc, true},
		{"bcrypt $2a$ lower", blf, "$2a$09$" + bc, true},
		{"bcrypt in {CRYPT}", blf, "{CRYPT}$2y$12$" + bc, false},
		{"bcrypt with .B64", blf, "{BLF-CRYPT.B64}" + base64.StdEncoding.EncodeToString([]byte("$2y$10$"+bc)), false},
		{"argon2id for bcrypt", blf, "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1" + salt, true},

		{"sha512 same", sha, "{SHA512-CRYPT}$6$rounds=100000" + s6, false},
		{"sha512 more", sha, "$6$rounds=500000" + s6, false},
		{"sha512 default rounds", sha, "{SHA512-CRYPT}$6" + s6, true},
		{"sha512 b64", sha, "{SHA512-CRYPT.B64}JDYkcm91bmRzPTIwMDAwMCRhYmNkZWZnaCR4", false},
		{"sha256", sha, "{SHA256-CRYPT}$5$rounds=100000" + s6, true},
		{"md5-crypt", sha, "$1$abcdefgh$xyz", true},
	} {
		if got := tc.h.NeedsRehash(tc.stored); got != tc.want {
			t.Errorf("%s: %s NeedsRehash(%q) = %v, want %v", tc.name, tc.h.Scheme, tc.stored, got, tc.want)
		}
	}
}

// BenchmarkHash measures the cost of one login with the default parameters.
func BenchmarkHash(b *testing.B) {
	for _, h := range []Hasher{recommendedHasher(), {Scheme: SchemeBlfCrypt, BcryptCost: 10}, {Scheme: SchemeSHA512Crypt, SHA512CryptRounds: 100_000}} {
		b.Run(h.Scheme, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Hash("correct horse battery staple"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
