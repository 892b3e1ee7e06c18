package mta

import (
	"errors"
	"strings"
	"unicode/utf8"

	"mailhost/address"
	smtp "mailhost/smtpd"
	"mailhost/store"
)

// Checks of the envelope that smtpd's parser lets through: the HELO
// name's characters, routing in local parts, the bare postmaster.

var (
	errBadHelo = smtpErr(501, smtp.EnhancedCode{5, 5, 2},
		"Invalid HELO/EHLO argument: control characters or invalid UTF-8")
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

// Hello checks a HELO/EHLO repeated in the session (smtpd resets the
// transaction first). A name that must not be echoed or logged gets the
// 501 and the connection ends after it (the first HELO of a session is
// refused in NewSession instead, and the client may try again).
func (s *session) Hello(name string) error {
	if validHelo(name) {
		return nil
	}
	s.srv.metrics.Rejected.WithLabelValues("bad_helo").Inc()
	s.log.Info("reject", "stage", "HELO", "reason", "bad_helo", "code", errBadHelo.Code, "helo", name)
	return errBadHelo
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
