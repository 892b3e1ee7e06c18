// Package auth checks who may log in: password schemes (verifying every
// common crypt format, hashing new passwords in one strong scheme), login
// checks and failure throttling.
//
// Stored passwords are strings in the form Dovecot and Postfix Admin write:
// an optional {SCHEME} prefix (case-insensitive, with an optional .B64 or .HEX
// encoding suffix) followed by the scheme's own format, e.g.
//
//	{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//	{BLF-CRYPT}$2y$12$...
//	$6$rounds=5000$<salt>$<hash>       (bare crypt string, detected by $6$)
//	{SSHA256}<base64 of digest+salt>
//	{SHA512-CRYPT.B64}<base64 of a $6$ string>   (Postfix Admin's sha512.b64)
//
// A string without a prefix is only accepted when it is a recognisable crypt
// string ($argon2id$, $argon2i$, $2a$/$2b$/$2y$, $6$, $5$, $1$). Anything
// else is refused with ErrUnknownScheme, never compared as plaintext.
package auth

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownScheme is returned (wrapped) by Verify for a stored password whose
// scheme is missing, unknown, or not supported by this package.
var ErrUnknownScheme = errors.New("unknown password scheme")

// ErrMalformed is returned (wrapped) by Verify for a stored password whose
// scheme is known but whose contents cannot be parsed.
var ErrMalformed = errors.New("malformed stored password")

// MaxPasswordLen is the longest password, in bytes, that Verify and Hash
// accept. libxcrypt (behind crypt(3), doveadm and mkpasswd) refuses 512
// bytes and more, so no legitimate stored hash needs longer ones.
const MaxPasswordLen = 4096

// Canonical scheme names, as Dovecot spells them. Scheme returns these.
const (
	SchemeArgon2ID    = "ARGON2ID"
	SchemeArgon2I     = "ARGON2I"
	SchemeBlfCrypt    = "BLF-CRYPT"
	SchemeSHA512Crypt = "SHA512-CRYPT"
	SchemeSHA256Crypt = "SHA256-CRYPT"
	SchemeMD5Crypt    = "MD5-CRYPT"
	SchemeSSHA512     = "SSHA512"
	SchemeSSHA256     = "SSHA256"
	SchemeSSHA        = "SSHA"
	SchemeSMD5        = "SMD5"
	SchemeSHA512      = "SHA512"
	SchemeSHA256      = "SHA256"
	SchemeSHA         = "SHA"
	SchemePlainMD5    = "PLAIN-MD5"
	SchemeCRAMMD5     = "CRAM-MD5"
	SchemePlain       = "PLAIN"
)

// payloadEncoding is how the payload after the {SCHEME} prefix is encoded.
type payloadEncoding int

const (
	encDefault payloadEncoding = iota // the scheme's own default
	encBase64                         // explicit .B64 / .BASE64 suffix
	encHex                            // explicit .HEX suffix
)

// parsed is a stored password split into its parts.
type parsed struct {
	scheme  string          // canonical scheme name
	enc     payloadEncoding // encoding of payload
	payload string          // what follows the prefix, still encoded
}

// Verify reports whether password matches the stored password hash.
// A wrong password yields (false, nil), as does a password containing a NUL
// byte (which no tool that wrote the stored hashes could handle) or one
// longer than MaxPasswordLen. A stored string in an unknown or
// unsupported scheme yields an error wrapping ErrUnknownScheme; one that
// cannot be parsed, an error wrapping ErrMalformed.
// All comparisons of secret-derived values take constant time.
func Verify(stored, password string) (bool, error) {
	p, err := parse(stored)
	if err != nil {
		return false, err
	}
	if strings.IndexByte(password, 0) >= 0 || len(password) > MaxPasswordLen {
		// No C tool can have hashed a password with a NUL byte, and
		// bcrypt could not tell "" from "\x00". The length limit keeps
		// SHA-crypt (quadratic in the length) from being used for DoS.
		return false, nil
	}
	ok, err := p.verify(password)
	if err != nil {
		return false, fmt.Errorf("auth: verify %s: %w", p.scheme, err)
	}
	return ok, nil
}

// Scheme returns the canonical name of the scheme of a stored password hash
// (SchemeArgon2ID, SchemeSHA512Crypt, ...), or "" when it is not recognised.
// Aliases are resolved: {CLEAR} and {CLEARTEXT} are PLAIN, {SHA1} is SHA,
// {LDAP-MD5} is PLAIN-MD5, {HMAC-MD5} is CRAM-MD5; {CRYPT}, the *-CRYPT and
// ARGON2* prefixes report the crypt format actually found in the string, and
// {MD5} is MD5-CRYPT for a $1$ string, else PLAIN-MD5. The name never contains the .B64/.HEX
// encoding suffix. Scheme does not check the rest of the string.
func Scheme(stored string) string {
	p, err := parse(stored)
	if err != nil {
		return ""
	}
	return p.scheme
}

// parse splits a stored password into scheme, encoding and payload, and
// resolves aliases and crypt-string detection.
func parse(stored string) (parsed, error) {
	if !strings.HasPrefix(stored, "{") {
		s := cryptScheme(stored)
		if s == "" {
			return parsed{}, fmt.Errorf("auth: stored password has no {SCHEME} prefix and no known $id$ crypt prefix: %w", ErrUnknownScheme)
		}
		return parsed{scheme: s, payload: stored}, nil
	}
	end := strings.IndexByte(stored, '}')
	if end < 0 {
		return parsed{}, fmt.Errorf("auth: stored password has an unterminated {SCHEME} prefix: %w", ErrUnknownScheme)
	}
	name := strings.ToUpper(stored[1:end])
	p := parsed{payload: stored[end+1:]}
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		switch name[i+1:] {
		case "B64", "BASE64":
			p.enc = encBase64
		case "HEX":
			p.enc = encHex
		default:
			return parsed{}, fmt.Errorf("auth: scheme %q: unknown encoding suffix: %w", name, ErrUnknownScheme)
		}
		name = name[:i]
	}
	switch name {
	case "SSHA512", "SSHA256", "SSHA", "SMD5", "SHA512", "SHA256", "SHA", "PLAIN-MD5", "CRAM-MD5", "PLAIN":
		p.scheme = name
	case "SHA1":
		p.scheme = SchemeSHA
	case "LDAP-MD5": // base64 of the MD5 digest; the encoding guess covers it
		p.scheme = SchemePlainMD5
	case "HMAC-MD5":
		p.scheme = SchemeCRAMMD5
	case "CLEAR", "CLEARTEXT":
		p.scheme = SchemePlain
	case "CRYPT", "ARGON2ID", "ARGON2I", "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT", "MD5":
		// Like Dovecot (which hands these to crypt(3) or libsodium), the
		// $id$ of the string decides the algorithm, whatever the label says.
		// {MD5} is MD5-CRYPT for a $1$ string, else a plain MD5 digest.
		s, err := p.decodedString()
		if err != nil {
			return parsed{}, fmt.Errorf("auth: scheme %s: %w", name, err)
		}
		p.scheme = cryptScheme(s)
		if p.scheme == "" && name == "MD5" {
			p.scheme = SchemePlainMD5
		}
		if p.scheme == "" {
			return parsed{}, fmt.Errorf("auth: scheme %s: unsupported crypt format: %w", name, ErrUnknownScheme)
		}
	default:
		return parsed{}, fmt.Errorf("auth: scheme %q: %w", name, ErrUnknownScheme)
	}
	return p, nil
}

// cryptScheme detects a crypt string by its $id$ prefix.
func cryptScheme(s string) string {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return SchemeArgon2ID
	case strings.HasPrefix(s, "$argon2i$"):
		return SchemeArgon2I
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return SchemeBlfCrypt
	case strings.HasPrefix(s, "$6$"):
		return SchemeSHA512Crypt
	case strings.HasPrefix(s, "$5$"):
		return SchemeSHA256Crypt
	case strings.HasPrefix(s, "$1$"):
		return SchemeMD5Crypt
	}
	return ""
}

// verify dispatches to the scheme's verifier.
func (p parsed) verify(password string) (bool, error) {
	switch p.scheme {
	case SchemeArgon2ID, SchemeArgon2I, SchemeBlfCrypt, SchemeSHA512Crypt, SchemeSHA256Crypt, SchemeMD5Crypt:
		s, err := p.decodedString()
		if err != nil {
			return false, err
		}
		return verifyCrypt(p.scheme, s, password)
	case SchemePlain:
		s, err := p.decodedString()
		if err != nil {
			return false, err
		}
		return verifyPlain(s, password), nil
	case SchemeCRAMMD5:
		raw, err := p.decodedDigest(cramMD5Size)
		if err != nil {
			return false, err
		}
		return verifyCRAMMD5(raw, password)
	}
	d, ok := digestOf(p.scheme)
	if !ok {
		// parse only produces schemes handled here.
		return false, fmt.Errorf("no verifier: %w", ErrUnknownScheme)
	}
	if d.salted {
		raw, err := p.decodedSalted()
		if err != nil {
			return false, err
		}
		return d.verifySalted(raw, password)
	}
	raw, err := p.decodedDigest(d.size)
	if err != nil {
		return false, err
	}
	return d.verify(raw, password), nil
}

// decodedString returns the payload of a scheme whose own format is text
// (crypt strings, PLAIN): as is, unless a .B64/.HEX suffix was given.
func (p parsed) decodedString() (string, error) {
	switch p.enc {
	case encBase64:
		b, err := decodeBase64(p.payload)
		return string(b), err
	case encHex:
		b, err := decodeHex(p.payload)
		return string(b), err
	}
	return p.payload, nil
}

// decodedDigest decodes the payload of a fixed-size digest scheme. Without
// an explicit suffix it guesses as Dovecot does: hex when the length is
// exactly twice the digest size, else base64.
func (p parsed) decodedDigest(size int) ([]byte, error) {
	enc := p.enc
	if enc == encDefault {
		enc = encBase64
		if len(p.payload) == 2*size {
			enc = encHex
		}
	}
	var b []byte
	var err error
	if enc == encHex {
		b, err = decodeHex(p.payload)
	} else {
		b, err = decodeBase64(p.payload)
	}
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("digest is %d bytes, want %d: %w", len(b), size, ErrMalformed)
	}
	return b, nil
}

// decodedSalted decodes the payload of a salted digest scheme: base64
// unless .HEX was given.
func (p parsed) decodedSalted() ([]byte, error) {
	if p.enc == encHex {
		return decodeHex(p.payload)
	}
	return decodeBase64(p.payload)
}

func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// Some tools drop the padding.
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, fmt.Errorf("bad base64: %w", ErrMalformed)
	}
	return b, nil
}

func decodeHex(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("bad hex: %w", ErrMalformed)
	}
	return b, nil
}
