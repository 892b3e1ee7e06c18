// Package sasl is the one door through which users log in to the mail
// protocols: the Authenticator that SMTP submission, IMAP, POP3 (and
// later ManageSieve), and the panel's mailbox-owner logins, check
// passwords through, and the server side of the SASL mechanisms (RFC
// 4422) the protocols offer: PLAIN (RFC 4616) and LOGIN
// (draft-murchison-sasl-login-00), with one rule for the authorization
// identity.
//
// Each protocol carries an exchange in its own way (SMTP AUTH, RFC 4954;
// IMAP AUTHENTICATE, RFC 9051 6.2.2; POP3 AUTH, RFC 5034) and answers the
// errors of this package with its own replies. A protocol that reads the
// exchange's lines itself (SMTP's smtpd, IMAP, POP3) runs the Server that
// NewServer returns with Run.
package sasl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gosasl "github.com/emersion/go-sasl"

	"mailhost/auth"
)

// Authenticator checks a user's password: the one login check of every
// protocol, so a client guessing over one protocol is throttled on all.
// *auth.Authenticator satisfies it; tests may use a fake.
type Authenticator interface {
	// Login returns the account on success, else an error matching
	// auth.ErrInvalidCredentials, auth.ErrThrottled, or a temporary
	// failure.
	Login(ctx context.Context, req auth.LoginRequest) (auth.Account, error)
}

var _ Authenticator = (*auth.Authenticator)(nil)

// Server is the server side of one exchange, the type smtpd's
// AuthSession returns: Next takes the client's
// decoded response (nil when the client gave no initial response, empty
// when it gave an empty one) and returns the next challenge, or done.
type Server = gosasl.Server

// Errors an exchange ends with when the client, not its credentials, is
// at fault. Protocols answer them with their own replies (see each
// server); the wrapped text says more, for the log.
var (
	// ErrUnknownMechanism: the client asked for a mechanism not in the table.
	ErrUnknownMechanism = errors.New("sasl: unsupported mechanism")
	// ErrMalformed: a decoded response that the mechanism cannot read
	// (PLAIN without exactly two NULs, an empty user name or password,
	// an identity that is not UTF-8, a response after the end).
	ErrMalformed = errors.New("sasl: malformed response")
	// ErrTooLong: a response over MaxResponse octets.
	ErrTooLong = errors.New("sasl: response too long")
	// ErrAuthzid: the client asked to act as another user (an
	// authorization identity that is not its own); see authorize.
	ErrAuthzid = errors.New("sasl: logging in as another user is not supported")
	// ErrCancelled: the client answered a challenge with "*" (Run only).
	ErrCancelled = errors.New("sasl: exchange cancelled by the client")
	// ErrBase64: a response line that is not base64 (Run only).
	ErrBase64 = errors.New("sasl: response is not base64")
)

// MaxResponse bounds one decoded client response, in octets. RFC 4616
// asks servers to accept 255 octets for each of PLAIN's three fields;
// this leaves room for long passwords and stays under the 4096-octet line
// go-imap reads a continuation into.
const MaxResponse = 2048

// Credentials are what a password mechanism collected from the client.
type Credentials struct {
	// Authzid is the authorization identity the client asked to act as:
	// empty, or the authentication identity itself (authorize has
	// checked it before Check sees it).
	Authzid string
	// Username is the authentication identity, as the client typed it.
	Username string
	Password string
}

// Check is a protocol session's check of the credentials an exchange
// collected: Authenticator.Login, then whatever the session does on a
// login. Its error ends the exchange and reaches the protocol unchanged,
// so it is already the protocol's answer.
type Check func(Credentials) error

// Mechanism is a row of the mechanism table.
type Mechanism struct {
	// Name is the mechanism's registered name, as servers advertise it.
	Name string
	// Plaintext marks a mechanism that sends the password itself: it is
	// offered only where a password may travel (auth.LoginAllowed: TLS,
	// or a loopback client when that is allowed).
	Plaintext bool
	// start begins one exchange.
	start func() mechanism
}

// mechanism reads the client's responses of one exchange: each step
// returns a challenge to send, or the credentials once it has them all,
// or an error (ErrMalformed).
type mechanism interface {
	step(response []byte) (challenge []byte, cred *Credentials, err error)
}

// table is the mechanism table, in the order servers advertise it.
// SCRAM-SHA-256 (RFC 7677) or OAUTHBEARER (RFC 7628) would be rows here
// with Plaintext false (offered before TLS too); they check stored keys
// or a token rather than a password, so they would bring a Check of
// their own alongside Credentials.
func table() []Mechanism {
	return []Mechanism{
		{Name: "PLAIN", Plaintext: true, start: func() mechanism { return &plain{} }},
		{Name: "LOGIN", Plaintext: true, start: func() mechanism { return &login{} }},
	}
}

// Mechanisms returns the names to advertise on a connection: every
// mechanism when a password may travel on it (plaintextOK), else only
// those that send none (none yet).
func Mechanisms(plaintextOK bool) []string {
	var out []string
	for _, m := range table() {
		if plaintextOK || !m.Plaintext {
			out = append(out, m.Name)
		}
	}
	return out
}

// NewServer returns the server side of the mechanism named mech (any
// case). check is called once the client's credentials are complete and
// its authorization identity is accepted; its error is the exchange's.
// The exchange's own errors (ErrMalformed, ErrTooLong, ErrAuthzid) pass
// through refuse, which turns them into the protocol's reply; nil
// returns them as they are. An unknown mech is ErrUnknownMechanism.
func NewServer(mech string, check Check, refuse func(error) error) (Server, error) {
	for _, m := range table() {
		if strings.EqualFold(m.Name, mech) {
			if refuse == nil {
				refuse = func(err error) error { return err }
			}
			return &server{mech: m.start(), check: check, refuse: refuse}, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownMechanism, mech)
}

// server runs a mechanism: the length bound, the authorization rule and
// the check, the same for every mechanism and protocol.
type server struct {
	mech   mechanism
	check  Check
	refuse func(error) error
	done   bool
}

func (s *server) Next(response []byte) ([]byte, bool, error) {
	if s.done {
		return nil, true, s.refuse(fmt.Errorf("%w: a response after the end of the exchange", ErrMalformed))
	}
	if len(response) > MaxResponse {
		s.done = true
		return nil, true, s.refuse(fmt.Errorf("%w: %d octets, at most %d", ErrTooLong, len(response), MaxResponse))
	}
	challenge, cred, err := s.mech.step(response)
	if err != nil {
		s.done = true
		return nil, true, s.refuse(err)
	}
	if cred == nil {
		return challenge, false, nil
	}
	s.done = true
	if err := authorize(*cred); err != nil {
		return nil, true, s.refuse(err)
	}
	return nil, true, s.check(*cred)
}

// authorize is the one rule for the authorization identity (RFC 4422
// 3.4.2): a client may act only as itself. An empty authzid is accepted,
// and so is one that names the same user as the authentication identity
// once both are normalised as auth.Login looks users up
// (auth.NormalizeUsername: trimmed, IDNA domain, NFC, lower case), so
// "Alice@Example.COM" may act as "alice@example.com". Any other is
// refused with ErrAuthzid: there are no proxy (master) users.
func authorize(c Credentials) error {
	if c.Authzid == "" {
		return nil
	}
	zid, _ := auth.NormalizeUsername(c.Authzid)
	cid, _ := auth.NormalizeUsername(c.Username)
	if zid != cid {
		return fmt.Errorf("%w: %q authenticated as %q", ErrAuthzid, c.Authzid, c.Username)
	}
	return nil
}
