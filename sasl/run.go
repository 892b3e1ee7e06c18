package sasl

import (
	"encoding/base64"
	"fmt"
)

// Conn is a line protocol's side of an exchange it reads itself (POP3
// AUTH, RFC 5034; ManageSieve AUTHENTICATE, RFC 5804).
type Conn interface {
	// Challenge sends the base64 challenge ("" for an empty one) as the
	// protocol's continuation ("+ ..." in POP3) and returns the client's
	// next line without its line ending. A line over the protocol's
	// limit is an error matching ErrTooLong.
	Challenge(encoded string) (line string, err error)
}

// Run runs srv over c. initial is the initial response as the client sent
// it on the command line: "" when there was none, "=" for an empty one
// (RFC 4422 4, as RFC 4954, 9051 and 5034 carry it). It returns nil when
// the exchange succeeded; else srv's error (the Check's, or a refused
// ErrMalformed, ErrTooLong, ErrAuthzid), ErrCancelled, ErrBase64,
// ErrTooLong, or c's error when the connection failed.
func Run(srv Server, initial string, c Conn) error {
	var resp []byte
	if initial != "" {
		r, err := DecodeResponse(initial)
		if err != nil {
			return err
		}
		resp = r
	}
	for {
		challenge, done, err := srv.Next(resp)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		line, err := c.Challenge(base64.StdEncoding.EncodeToString(challenge))
		if err != nil {
			return err
		}
		if resp, err = DecodeResponse(line); err != nil {
			return err
		}
	}
}

// DecodeResponse reads one client response line: "*" cancels the
// exchange (ErrCancelled), "=" is an empty response, anything else must
// be base64 (ErrBase64) of at most MaxResponse octets (ErrTooLong). The
// result is never nil.
func DecodeResponse(line string) ([]byte, error) {
	switch {
	case line == "*":
		return nil, ErrCancelled
	case line == "=":
		return []byte{}, nil
	case len(line) > base64.StdEncoding.EncodedLen(MaxResponse):
		return nil, fmt.Errorf("%w: %d base64 characters", ErrTooLong, len(line))
	}
	b, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBase64, err)
	}
	return b, nil
}
