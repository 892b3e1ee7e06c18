package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/GehirnInc/crypt/sha512_crypt"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Sizes of new argon2 hashes, the same as doveadm pw writes.
const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
)

// Limits of SHA-crypt rounds, from the specification
// (https://www.akkadia.org/drepper/SHA-crypt.txt).
const (
	minSHACryptRounds = 1000
	maxSHACryptRounds = 999_999_999
)

// Hasher hashes new passwords in one scheme. Its parameters come from the
// configuration (password.*, whose defaults are the recommended ones and
// say why). Only the fields of the chosen Scheme matter. The zero Hasher
// is not valid.
type Hasher struct {
	// Scheme for new hashes: SchemeArgon2ID, SchemeBlfCrypt or
	// SchemeSHA512Crypt (case-insensitive).
	Scheme string

	// Argon2Time is the number of passes over the memory (argon2 t).
	Argon2Time uint32
	// Argon2MemoryKiB is the memory per hash in KiB (argon2 m).
	Argon2MemoryKiB uint32
	// Argon2Threads is the degree of parallelism (argon2 p).
	Argon2Threads uint8

	// BcryptCost is the log2 of bcrypt's iteration count (4 to 31).
	BcryptCost int

	// SHA512CryptRounds is the rounds= of SHA512-CRYPT (1000 to 999999999).
	SHA512CryptRounds int
}

// Validate reports whether h can hash: a supported scheme and parameters in
// range for it.
func (h Hasher) Validate() error {
	switch strings.ToUpper(h.Scheme) {
	case SchemeArgon2ID:
		switch {
		case h.Argon2Time < 1:
			return fmt.Errorf("auth: argon2 time must be at least 1")
		case h.Argon2Threads < 1:
			return fmt.Errorf("auth: argon2 threads must be at least 1")
		case h.Argon2MemoryKiB < 8*uint32(h.Argon2Threads):
			return fmt.Errorf("auth: argon2 memory must be at least 8 KiB per thread")
		case h.Argon2MemoryKiB > maxArgon2MemoryKiB:
			return fmt.Errorf("auth: argon2 memory must be at most %d KiB", maxArgon2MemoryKiB)
		}
	case SchemeBlfCrypt:
		if h.BcryptCost < bcrypt.MinCost || h.BcryptCost > bcrypt.MaxCost {
			return fmt.Errorf("auth: bcrypt cost must be between %d and %d", bcrypt.MinCost, bcrypt.MaxCost)
		}
	case SchemeSHA512Crypt:
		if h.SHA512CryptRounds < minSHACryptRounds || h.SHA512CryptRounds > maxSHACryptRounds {
			return fmt.Errorf("auth: SHA512-CRYPT rounds must be between %d and %d", minSHACryptRounds, maxSHACryptRounds)
		}
	default:
		return fmt.Errorf("auth: scheme %q cannot hash new passwords (want %s, %s or %s)",
			h.Scheme, SchemeArgon2ID, SchemeBlfCrypt, SchemeSHA512Crypt)
	}
	return nil
}

// Hash hashes password with a fresh random salt and returns it with its
// {SCHEME} prefix, ready to store, e.g.
// {ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
// A password containing a NUL byte or longer than MaxPasswordLen is refused
// (Verify would refuse it too), and BLF-CRYPT cannot hash passwords longer
// than 72 bytes.
func (h Hasher) Hash(password string) (string, error) {
	if err := h.Validate(); err != nil {
		return "", err
	}
	if strings.IndexByte(password, 0) >= 0 {
		return "", errors.New("auth: password contains a NUL byte")
	}
	if len(password) > MaxPasswordLen {
		return "", fmt.Errorf("auth: password longer than %d bytes", MaxPasswordLen)
	}
	switch scheme := strings.ToUpper(h.Scheme); scheme {
	case SchemeArgon2ID:
		a := argon2Params{
			variant:   "argon2id",
			version:   argon2.Version,
			memoryKiB: h.Argon2MemoryKiB,
			time:      h.Argon2Time,
			threads:   h.Argon2Threads,
			salt:      make([]byte, argon2SaltLen),
		}
		rand.Read(a.salt) // never fails (crypto/rand, Go 1.24+)
		a.hash = a.key(password, argon2KeyLen)
		return "{" + scheme + "}" + a.encode(), nil
	case SchemeBlfCrypt:
		b, err := bcrypt.GenerateFromPassword([]byte(password), h.BcryptCost)
		if err != nil {
			return "", fmt.Errorf("auth: hash BLF-CRYPT: %w", err)
		}
		// x/crypto writes $2a$ but computes what $2b$/$2y$ mean; C's
		// crypt_blowfish treats $2a$ with a bug-compatibility safeguard,
		// so $2y$ (as doveadm and PHP write) is the accurate label.
		return "{" + scheme + "}$2y$" + string(b[4:]), nil
	default: // SchemeSHA512Crypt, by Validate
		// 16 characters of base32 (80 bits): the longest salt SHA-crypt
		// uses, all from its salt alphabet.
		setting := fmt.Sprintf("$6$rounds=%d$%s", h.SHA512CryptRounds, rand.Text()[:16])
		s, err := sha512_crypt.New().Generate([]byte(password), []byte(setting))
		if err != nil {
			return "", fmt.Errorf("auth: hash SHA512-CRYPT: %w", err)
		}
		return "{" + scheme + "}" + s, nil
	}
}

// NeedsRehash reports whether a stored hash (that just verified) should be
// replaced by h.Hash of the same password: when it is in another scheme than
// h's, or in h's scheme with weaker parameters (lower argon2 memory or time,
// lower bcrypt cost, fewer SHA512-CRYPT rounds). Stronger parameters are
// kept. Unparsable stored strings need a rehash; an invalid h never asks for
// one, since it could not hash.
func (h Hasher) NeedsRehash(stored string) bool {
	if h.Validate() != nil {
		return false
	}
	p, err := parse(stored)
	if err != nil {
		return true
	}
	scheme := strings.ToUpper(h.Scheme)
	if p.scheme != scheme {
		return true
	}
	s, err := p.decodedString()
	if err != nil {
		return true
	}
	switch scheme {
	case SchemeArgon2ID:
		a, err := parseArgon2(s)
		return err != nil || a.memoryKiB < h.Argon2MemoryKiB || a.time < h.Argon2Time
	case SchemeBlfCrypt:
		cost, err := bcrypt.Cost([]byte(s))
		return err != nil || cost < h.BcryptCost
	default: // SchemeSHA512Crypt
		return shaCryptRounds(s) < h.SHA512CryptRounds
	}
}
