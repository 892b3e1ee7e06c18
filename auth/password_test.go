package auth

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// vector is one line of testdata/vectors.txt, produced by a real tool.
type vector struct {
	line     int
	block    string // the comment naming the command that produced it
	password string
	stored   string
}

func readVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	block := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "#"):
			block = strings.TrimSpace(strings.TrimPrefix(line, "#"))
			continue
		}
		pw, stored, ok := strings.Cut(line, "\t")
		if !ok || stored == "" {
			t.Fatalf("vectors.txt:%d: want password<TAB>hash", n)
		}
		vs = append(vs, vector{n, block, pw, stored})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 100 {
		t.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

// TestVectors checks every vector: the password verifies, wrong passwords
// do not, and the {SCHEME} prefix is case-insensitive, as in Dovecot.
func TestVectors(t *testing.T) {
	for _, v := range readVectors(t) {
		t.Run(fmt.Sprintf("line%d", v.line), func(t *testing.T) {
			t.Parallel()
			ok, err := Verify(v.stored, v.password)
			if err != nil || !ok {
				t.Errorf("%s: Verify(%q, %q) = %v, %v; want true, nil", v.block, v.stored, v.password, ok, err)
			}
			if Scheme(v.stored) == "" {
				t.Errorf("Scheme(%q) = \"\"", v.stored)
			}
			// Not password+"x": bcrypt ignores what follows byte 72.
			for _, wrong := range []string{"x" + v.password, ""} {
				ok, err := Verify(v.stored, wrong)
				if err != nil || ok {
					t.Errorf("%s: Verify(%q, %q) = %v, %v; want false, nil", v.block, v.stored, wrong, ok, err)
				}
			}
			if end := strings.IndexByte(v.stored, '}'); strings.HasPrefix(v.stored, "{") && end > 0 {
				lower := strings.ToLower(v.stored[:end]) + v.stored[end:]
				if ok, err := Verify(lower, v.password); err != nil || !ok {
					t.Errorf("Verify(%q) = %v, %v; want true, nil", lower, ok, err)
				}
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	for _, tc := range []struct {
		stored string
		want   error
	}{
		// No prefix and no crypt $id$: never taken as plaintext.
		{"secret", ErrUnknownScheme},
		{"", ErrUnknownScheme},
		{"5f4dcc3b5aa765d61d8327deb882cf99", ErrUnknownScheme}, // bare hex MD5
		{"{NOSUCH}secret", ErrUnknownScheme},
		{"{PLAIN", ErrUnknownScheme},
		{"{PLAIN.ROT13}secret", ErrUnknownScheme},
		{"{DIGEST-MD5}0123456789abcdef0123456789abcdef", ErrUnknownScheme},
		{"{SHA512-CRYPT}*0", ErrUnknownScheme},     // doveadm's output when crypt(3) fails
		{"{CRYPT}abJnggxhB/yWI", ErrUnknownScheme}, // DES crypt
		{"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7", ErrUnknownScheme}, // yescrypt
		{"$2x$05$abcdefghijklmnopqrstuOabcdefghijklmnopqrstuvwxyz01234", ErrUnknownScheme},
		{"$argon2d$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrUnknownScheme},
		{"$argon2i$m=4096,t=3,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrUnknownScheme}, // version 0x10
		{"$argon2id$v=16$m=4096,t=3,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrUnknownScheme},

		{"{SHA256}not base64!", ErrMalformed},
		{"{SHA256}c2hvcnQ=", ErrMalformed},                   // wrong digest length
		{"{SSHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=", ErrMalformed}, // no salt
		{"{SSHA.HEX}zz", ErrMalformed},
		{"{CRAM-MD5}00", ErrMalformed},
		{"{PLAIN.B64}***", ErrMalformed},
		{"$2y$05$short", ErrMalformed},
		{"$6$rounds=5000$", ErrMalformed},
		{"$6$salt$", ErrMalformed},
		{"$6$rounds=x$salt$hash", ErrMalformed},
		{"$argon2id$v=19$m=4096,t=3$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"$argon2id$v=19$m=4096,t=0,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"$argon2id$v=19$m=4096,t=1,p=0$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"$argon2id$v=19$m=7,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"$argon2id$v=19$m=4096,t=1,p=1,m=8$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"$argon2id$v=19$m=4096,t=1,p=1,x=2$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"$argon2id$v=19$m=4096,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed}, // 4-byte salt
		{"$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHQ$aGFzaA", ErrMalformed},            // 4-byte hash
		{"$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHQ$!!!", ErrMalformed},
	} {
		ok, err := Verify(tc.stored, "secret")
		if ok || !errors.Is(err, tc.want) {
			t.Errorf("Verify(%q) = %v, %v; want false, %v", tc.stored, ok, err, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "auth: ") {
			t.Errorf("Verify(%q): error %q lacks the auth: prefix", tc.stored, err)
		}
	}
}

// Passwords that the encodings could confuse: empty, invalid UTF-8, long.
func TestVerifyOddPasswords(t *testing.T) {
	for _, pw := range []string{"", "\xff\xfe", strings.Repeat("long ", 100)} {
		for _, h := range []Hasher{recommendedHasher(), cheap(SchemeBlfCrypt), cheap(SchemeSHA512Crypt)} {
			if h.Scheme == SchemeBlfCrypt && len(pw) > 72 {
				continue
			}
			stored, err := h.Hash(pw)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := Verify(stored, pw); !ok || err != nil {
				t.Errorf("Verify(%q, %q) = %v, %v", stored, pw, ok, err)
			}
			if ok, err := Verify(stored, pw+"\x00"); ok || err != nil {
				t.Errorf("Verify(%q, %q+NUL) = %v, %v", stored, pw, ok, err)
			}
		}
		if ok, _ := Verify("{PLAIN}"+pw, pw); !ok {
			t.Errorf("PLAIN %q does not verify", pw)
		}
	}
}

// A NUL byte cannot be part of a password: C tools end strings there.
// Overlong passwords are refused too.
func TestNULPassword(t *testing.T) {
	if ok, err := Verify("{PLAIN}a\x00b", "a\x00b"); ok || err != nil {
		t.Errorf("Verify with NUL = %v, %v; want false, nil", ok, err)
	}
	if _, err := Verify("nonsense", "a\x00b"); !errors.Is(err, ErrUnknownScheme) {
		t.Errorf("Verify(unknown scheme, NUL) error = %v, want ErrUnknownScheme", err)
	}
	if s, err := cheap(SchemeArgon2ID).Hash("a\x00b"); err == nil {
		t.Errorf("Hash with NUL = %q, want error", s)
	}
	long := strings.Repeat("a", MaxPasswordLen+1)
	if ok, err := Verify("{PLAIN}"+long, long); ok || err != nil {
		t.Errorf("Verify(too long) = %v, %v; want false, nil", ok, err)
	}
	if s, err := cheap(SchemeArgon2ID).Hash(long); err == nil {
		t.Errorf("Hash(too long) = %q, want error", s)
	}
}

// bcrypt uses only the first 72 bytes, as crypt(3) does: hashes of longer
// passwords written by C tools must still verify (vectors.txt has some).
func TestBcryptLongPassword(t *testing.T) {
	const stored = "$2b$05$FrAhDSTQypYrzij98Prt6uoM.fI7wV0NTKwNu1J3jC.HGPfktyXH6" // mkpasswd, 84 bytes
	pw := "Ωmega-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789"
	for _, p := range []string{pw, pw[:72], pw[:72] + "anything"} {
		if ok, err := Verify(stored, p); !ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want true", p, ok, err)
		}
	}
	if ok, _ := Verify(stored, pw[:71]); ok {
		t.Errorf("71-byte prefix verifies")
	}
}

func TestScheme(t *testing.T) {
	for _, tc := range []struct{ stored, want string }{
		{"{ARGON2ID}$argon2id$v=19$m=1", SchemeArgon2ID},
		{"$argon2i$v=19$m=1", SchemeArgon2I},
		{"{blf-crypt}$2y$05$x", SchemeBlfCrypt},
		{"$2b$05$x", SchemeBlfCrypt},
		{"{CRYPT}$6$x$y", SchemeSHA512Crypt},
		{"{SHA512-CRYPT}$2y$05$x", SchemeBlfCrypt}, // the string decides
		{"{SHA512-CRYPT.B64}JDYkYWIkY2Q=", SchemeSHA512Crypt},
		{"$5$x$y", SchemeSHA256Crypt},
		{"{MD5}$1$x$y", SchemeMD5Crypt},
		{"{MD5}5f4dcc3b5aa765d61d8327deb882cf99", SchemePlainMD5},
		{"{LDAP-MD5}X03MO1qnZdYdgyfeuILPmQ==", SchemePlainMD5},
		{"{SHA1}x", SchemeSHA},
		{"{SSHA.HEX}00", SchemeSSHA},
		{"{HMAC-MD5}00", SchemeCRAMMD5},
		{"{CLEARTEXT}x", SchemePlain},
		{"{Clear}x", SchemePlain},
		{"{SMD5}x", SchemeSMD5},
		{"plain", ""},
		{"{NOPE}x", ""},
		{"{CRYPT}abJnggxhB/yWI", ""},
	} {
		if got := Scheme(tc.stored); got != tc.want {
			t.Errorf("Scheme(%q) = %q, want %q", tc.stored, got, tc.want)
		}
	}
}
