package sasl

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// plain is PLAIN (RFC 4616): one message, authzid NUL authcid NUL passwd.
type plain struct{ asked bool }

func (p *plain) step(resp []byte) ([]byte, *Credentials, error) {
	if resp == nil && !p.asked {
		// No initial response: an empty challenge asks for the message
		// (RFC 4422 5). An empty initial response ("=") is a message,
		// and an empty message is malformed.
		p.asked = true
		return nil, nil, nil
	}
	// RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%w: PLAIN wants authzid NUL authcid NUL password, got %d NULs", ErrMalformed, len(parts)-1)
	}
	c := Credentials{Authzid: string(parts[0]), Username: string(parts[1]), Password: string(parts[2])}
	if err := wellFormed(c); err != nil {
		return nil, nil, err
	}
	return nil, &c, nil
}

// login is LOGIN (draft-murchison-sasl-login-00): the server prompts
// "Username:" and "Password:", the client answers each. Some clients send
// the user name as an initial response; an empty initial response is
// taken as none (the prompt follows).
type login struct {
	state    int // 0 start, 1 asked for the user name, 2 asked for the password
	username string
}

var (
	promptUsername = []byte("Username:")
	promptPassword = []byte("Password:")
)

func (l *login) step(resp []byte) ([]byte, *Credentials, error) {
	switch l.state {
	case 0:
		if len(resp) == 0 {
			l.state = 1
			return promptUsername, nil, nil
		}
		fallthrough
	case 1:
		if len(resp) == 0 || !utf8.Valid(resp) || bytes.IndexByte(resp, 0) >= 0 {
			return nil, nil, fmt.Errorf("%w: LOGIN user name empty, not UTF-8 or with a NUL", ErrMalformed)
		}
		l.username, l.state = string(resp), 2
		return promptPassword, nil, nil
	}
	c := Credentials{Username: l.username, Password: string(resp)}
	if err := wellFormed(c); err != nil {
		return nil, nil, err
	}
	return nil, &c, nil
}

// wellFormed checks what every password mechanism requires of its
// fields (RFC 4616 2): a non-empty user name and password without NULs,
// identities in UTF-8. The password is not checked for UTF-8: an old
// hash may hold a password in another charset, and it simply fails to
// verify when it is not the right one.
func wellFormed(c Credentials) error {
	switch {
	case c.Username == "" || c.Password == "":
		return fmt.Errorf("%w: empty user name or password", ErrMalformed)
	case !utf8.ValidString(c.Authzid) || !utf8.ValidString(c.Username):
		return fmt.Errorf("%w: identity not UTF-8", ErrMalformed)
	case strings.IndexByte(c.Password, 0) >= 0:
		return fmt.Errorf("%w: NUL in the password", ErrMalformed)
	}
	return nil
}
