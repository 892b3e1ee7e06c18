package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/GehirnInc/crypt/md5_crypt"
	"github.com/GehirnInc/crypt/sha256_crypt"
	"github.com/GehirnInc/crypt/sha512_crypt"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// maxArgon2MemoryKiB bounds the memory a stored argon2 hash may ask for
// (4 GiB, four times libsodium's "sensitive" preset). A corrupt or hostile
// row must not be able to make one login allocate unbounded memory and take
// the whole server down. Time costs are not bounded: they slow one login.
const maxArgon2MemoryKiB = 4 << 20

// Lower bounds for argon2 strings: the salt minimum is the reference
// implementation's; a hash shorter than 16 bytes would make a false match by
// chance too likely, so it is refused as malformed.
const (
	minArgon2SaltLen = 8
	minArgon2HashLen = 16
)

// argon2Params is a parsed PHC argon2 string:
// $argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash> (unpadded standard base64).
type argon2Params struct {
	variant   string // "argon2id" or "argon2i"
	version   int
	memoryKiB uint32
	time      uint32
	threads   uint8
	salt      []byte
	hash      []byte
}

// parseArgon2 parses a PHC argon2 string as libsodium and the reference
// implementation write it.
func parseArgon2(s string) (argon2Params, error) {
	f := strings.Split(s, "$")
	// "", variant, v=N, m=..,t=..,p=.., salt, hash
	if len(f) != 6 || f[0] != "" {
		if len(f) == 5 {
			return argon2Params{}, fmt.Errorf("argon2 string without v= (version 0x10): %w", ErrUnknownScheme)
		}
		return argon2Params{}, fmt.Errorf("argon2: want 5 $-separated fields: %w", ErrMalformed)
	}
	a := argon2Params{variant: f[1]}
	if a.variant != "argon2id" && a.variant != "argon2i" {
		return argon2Params{}, fmt.Errorf("argon2 variant %q: %w", a.variant, ErrUnknownScheme)
	}
	v, ok := strings.CutPrefix(f[2], "v=")
	if !ok {
		return argon2Params{}, fmt.Errorf("argon2: missing v=: %w", ErrMalformed)
	}
	var err error
	if a.version, err = strconv.Atoi(v); err != nil {
		return argon2Params{}, fmt.Errorf("argon2: bad version: %w", ErrMalformed)
	}
	if a.version != argon2.Version {
		return argon2Params{}, fmt.Errorf("argon2 version %d: %w", a.version, ErrUnknownScheme)
	}
	var seen [3]bool
	for _, kv := range strings.Split(f[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return argon2Params{}, fmt.Errorf("argon2: bad parameter %q: %w", kv, ErrMalformed)
		}
		var i int
		switch k {
		case "m":
			i, a.memoryKiB = 0, uint32(n)
		case "t":
			i, a.time = 1, uint32(n)
		case "p":
			if n > 255 {
				return argon2Params{}, fmt.Errorf("argon2: parallelism %d > 255: %w", n, ErrMalformed)
			}
			i, a.threads = 2, uint8(n)
		default:
			return argon2Params{}, fmt.Errorf("argon2: unknown parameter %q: %w", k, ErrMalformed)
		}
		if seen[i] {
			return argon2Params{}, fmt.Errorf("argon2: repeated parameter %q: %w", k, ErrMalformed)
		}
		seen[i] = true
	}
	switch {
	case seen != [3]bool{true, true, true}:
		return argon2Params{}, fmt.Errorf("argon2: want m, t and p: %w", ErrMalformed)
	case a.time < 1 || a.threads < 1:
		return argon2Params{}, fmt.Errorf("argon2: t and p must be at least 1: %w", ErrMalformed)
	case a.memoryKiB < 8*uint32(a.threads):
		return argon2Params{}, fmt.Errorf("argon2: m must be at least 8*p: %w", ErrMalformed)
	case a.memoryKiB > maxArgon2MemoryKiB:
		return argon2Params{}, fmt.Errorf("argon2: m=%d KiB exceeds the limit of %d: %w", a.memoryKiB, maxArgon2MemoryKiB, ErrMalformed)
	}
	if a.salt, err = decodeArgon2B64(f[4]); err != nil {
		return argon2Params{}, err
	}
	if a.hash, err = decodeArgon2B64(f[5]); err != nil {
		return argon2Params{}, err
	}
	if len(a.salt) < minArgon2SaltLen || len(a.hash) < minArgon2HashLen {
		return argon2Params{}, fmt.Errorf("argon2: salt or hash too short: %w", ErrMalformed)
	}
	return a, nil
}

// decodeArgon2B64 decodes PHC's unpadded base64, tolerating padding.
func decodeArgon2B64(s string) ([]byte, error) {
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("argon2: bad base64: %w", ErrMalformed)
	}
	return b, nil
}

// key derives the argon2 key of password with a's parameters.
func (a argon2Params) key(password string, keyLen uint32) []byte {
	if a.variant == "argon2i" {
		return argon2.Key([]byte(password), a.salt, a.time, a.memoryKiB, a.threads, keyLen)
	}
	return argon2.IDKey([]byte(password), a.salt, a.time, a.memoryKiB, a.threads, keyLen)
}

// encode formats a as a PHC string.
func (a argon2Params) encode() string {
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s", a.variant, a.version,
		a.memoryKiB, a.time, a.threads,
		base64.RawStdEncoding.EncodeToString(a.salt), base64.RawStdEncoding.EncodeToString(a.hash))
}

// verifyCrypt verifies password against a crypt string s of the given
// (already detected) scheme.
func verifyCrypt(scheme, s, password string) (bool, error) {
	switch scheme {
	case SchemeArgon2ID, SchemeArgon2I:
		a, err := parseArgon2(s)
		if err != nil {
			return false, err
		}
		got := a.key(password, uint32(len(a.hash)))
		return subtle.ConstantTimeCompare(got, a.hash) == 1, nil
	case SchemeBlfCrypt:
		return verifyBcrypt(s, password)
	case SchemeSHA512Crypt, SchemeSHA256Crypt, SchemeMD5Crypt:
		return verifyShaMD5Crypt(scheme, s, password)
	}
	return false, fmt.Errorf("crypt format %s: %w", scheme, ErrUnknownScheme)
}

// bcryptLen is the length of every $2?$NN$<22 salt><31 hash> string.
const bcryptLen = 60

func verifyBcrypt(s, password string) (bool, error) {
	// $2a$, $2b$ and $2y$ compute the same; $2x$ (the old buggy variant)
	// never reaches here. Passwords longer than 72 bytes are cut to 72 by
	// the algorithm itself, as crypt(3) does, so such hashes still match.
	if len(s) != bcryptLen {
		return false, fmt.Errorf("bcrypt: length %d, want %d: %w", len(s), bcryptLen, ErrMalformed)
	}
	err := bcrypt.CompareHashAndPassword([]byte(s), []byte(password))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	}
	return false, fmt.Errorf("bcrypt: %v: %w", err, ErrMalformed)
}

// verifyShaMD5Crypt verifies $6$, $5$ and $1$ strings. The library's own
// Verify misreads "$6$rounds=N$<salt>$<hash>" when the salt is shorter than
// 16 characters (it takes the hash as part of the salt), so the setting
// (everything before the last '$') is passed to Generate and the result is
// compared here.
func verifyShaMD5Crypt(scheme, s, password string) (bool, error) {
	i := strings.LastIndexByte(s, '$')
	if i < 3 || i == len(s)-1 {
		return false, fmt.Errorf("crypt string without hash: %w", ErrMalformed)
	}
	setting := s[:i]
	var got string
	var err error
	switch scheme {
	case SchemeSHA512Crypt:
		got, err = sha512_crypt.New().Generate([]byte(password), []byte(setting))
	case SchemeSHA256Crypt:
		got, err = sha256_crypt.New().Generate([]byte(password), []byte(setting))
	default:
		got, err = md5_crypt.New().Generate([]byte(password), []byte(setting))
	}
	if err != nil {
		return false, fmt.Errorf("%v: %w", err, ErrMalformed)
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s)) == 1, nil
}

// shaCryptRounds returns the rounds of a $5$ or $6$ string (5000 when the
// string has no rounds= field), or -1 when it cannot be read.
func shaCryptRounds(s string) int {
	f := strings.SplitN(s, "$", 4)
	if len(f) < 4 {
		return -1
	}
	r, ok := strings.CutPrefix(f[2], "rounds=")
	if !ok {
		return 5000
	}
	n, err := strconv.Atoi(r)
	if err != nil {
		return -1
	}
	return n
}
