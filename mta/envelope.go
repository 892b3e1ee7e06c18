package mta

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"mailhost/address"
	"mailhost/store"
)

// Checks of the envelope that go-smtp's parser lets through: the HELO
// name's characters, MAIL inside a transaction, routing in local parts,
// the bare postmaster.

var (
	errBadHelo = smtpErr(501, smtp.EnhancedCode{5, 5, 2},
		"Invalid HELO/EHLO argument: control characters or invalid UTF-8")
	errNestedMail = smtpErr(503, smtp.EnhancedCode{5, 5, 1}, "Error: nested MAIL command")
)

// validHelo reports whether a HELO/EHLO argument may be echoed and
// logged: valid UTF-8 without C0 control characters or DEL. Anything
// else is refused rather than cleaned, as Postfix refuses a malformed
// HELO name; the name is never written back to the client raw.
func validHelo(name string) bool {
	if !utf8.ValidString(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] == 0x7f {
			return false
		}
	}
	return true
}

// heloRepeated runs when a session is reset: after RSET and DATA, and by
// a HELO/EHLO repeated in the same session, which go-smtp answers itself
// with the new name in its greeting line. A name that must not be echoed
// gets the 501 here and the connection closes before that greeting goes
// out (the first HELO of a session is refused in NewSession instead).
func (s *session) heloRepeated() {
	if validHelo(s.conn.Hostname()) {
		return
	}
	s.srv.metrics.Rejected.WithLabelValues("bad_helo").Inc()
	s.log.Info("reject", "stage", "HELO", "reason", "bad_helo", "code", errBadHelo.Code, "helo", s.conn.Hostname())
	nc := s.conn.Conn()
	_, _ = nc.Write([]byte("501 5.5.2 " + errBadHelo.Message + ", closing connection\r\n"))
	_ = nc.Close()
}

// routed reports a local part with sender-specified routing: "%" (the
// percent hack, RFC 1123 5.2.16) or "!" (a UUCP bang path). Postfix
// refuses these from untrusted clients for the domains it serves and
// relays for (allow_untrusted_routing = no), since the next host may
// forward to the address inside.
func routed(addr string) bool {
	local, _ := address.Split(addr)
	return strings.ContainsAny(local, "%!")
}

const routingRefusal = "<%s>: Recipient address rejected: sender-specified routing (%% or ! in the local part) is not allowed"

// routingRefused applies the routing rule to a recipient: clients in
// mynetworks may route; every other client may not, for hosted and relay
// domains. A logged-in user sending to a domain served elsewhere
// (foreign) may: that domain's servers decide what the local part means.
func (s *session) routingRefused(to, addr string, foreign bool) error {
	if s.cc.trusted || !routed(addr) || s.acct != nil && foreign {
		return nil
	}
	return s.reject("RCPT", "untrusted_routing", smtpErr(550, smtp.EnhancedCode{5, 7, 1}, routingRefusal, to), "to", addr)
}

// resolved reports whether err from Resolve is an answer about the
// address (unknown, disabled, moved) rather than a failure to get one.
func resolved(err error) bool {
	var moved *store.RelocatedError
	return err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDisabled) ||
		errors.As(err, &moved)
}

// isBarePostmaster reports the one recipient allowed without a domain
// (RFC 5321 4.1.1.3), case-insensitive.
func isBarePostmaster(to string) bool { return strings.EqualFold(to, "postmaster") }

// postmasterCandidates are the addresses a bare "postmaster" recipient
// (RFC 5321 4.1.1.3: no domain, case-insensitive) may mean: postmaster at
// the server's hostname, then at the domain above it (Postfix's
// mydomain), the first one served here.
func (s *Server) postmasterCandidates() []string {
	host := strings.ToLower(strings.TrimSuffix(s.cfg.Hostname, "."))
	out := []string{"postmaster@" + host}
	if _, parent, ok := strings.Cut(host, "."); ok && strings.Contains(parent, ".") {
		out = append(out, "postmaster@"+parent)
	}
	return out
}

// resolvePostmaster resolves a bare postmaster to the first candidate that
// is a local or relay address here; ErrNotFound when none is.
func (s *session) resolvePostmaster() (string, store.Resolution, error) {
	for _, addr := range s.srv.postmasterCandidates() {
		n, err := address.Normalize(addr)
		if err != nil {
			continue
		}
		res, err := s.srv.store.Resolve(s.ctx, n, s.srv.cfg.RecipientDelimiter)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return n, res, err
		case res.Foreign:
			continue
		}
		return n, res, nil
	}
	return "postmaster", store.Resolution{}, store.ErrNotFound
}
