package mta

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/store"
)

// ruleVerdict applies an access rule (Postfix access(5)): OK (accept, and
// for a client skip the DNS block lists), REJECT (554 5.7.1), DISCARD
// (accept and drop the message), or "nnn [x.y.z] text" with that reply.
// what names the thing checked ("Sender address"), subject its value.
func ruleVerdict(r store.AccessRule, what, subject string) (ok, discard bool, e *smtp.SMTPError) {
	switch r.Action {
	case "OK":
		return true, false, nil
	case "DISCARD":
		return false, true, nil
	case "REJECT":
		return false, false, smtpErr(554, smtp.EnhancedCode{5, 7, 1}, "<%s>: %s rejected: Access denied", subject, what)
	}
	code, text, _ := strings.Cut(r.Action, " ")
	n, err := strconv.Atoi(code)
	if err != nil || n < 400 || n > 599 {
		return false, false, smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "Temporary failure, please try again later")
	}
	ec := smtp.EnhancedCode{n / 100, 7, 1}
	if first, rest, found := strings.Cut(text, " "); found || first != "" {
		if c, ok := parseEnhanced(first); ok && c[0] == n/100 {
			ec, text = c, rest
		}
	}
	if text == "" {
		text = "Access denied"
	}
	return false, false, smtpErr(n, ec, "<%s>: %s rejected: %s", subject, what, text)
}

func parseEnhanced(s string) (smtp.EnhancedCode, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return smtp.EnhancedCode{}, false
	}
	var c smtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 {
			return smtp.EnhancedCode{}, false
		}
		c[i] = n
	}
	return c, c[0] == 4 || c[0] == 5
}

// checkDNSBL looks the client up in each configured zone and returns the
// first zone that lists it, or "". Only 127.0.0.0/8 answers count as
// listings (others are DNSBL error codes, e.g. Spamhaus 127.255.255.x are
// "query refused"); lookups failing are logged and ignored.
func (s *Server) checkDNSBL(ctx context.Context, cc *clientConn) string {
	name := reverseName(cc)
	if name == "" {
		return ""
	}
	for _, zone := range s.cfg.DNSBL {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		addrs, err := s.cfg.LookupHost(lctx, name+"."+zone)
		cancel()
		if err != nil {
			continue // NXDOMAIN: not listed
		}
		for _, a := range addrs {
			if strings.HasPrefix(a, "127.") && !strings.HasPrefix(a, "127.255.255.") {
				s.log.Info("dnsbl listed", "conn", cc.id, "client", cc.ip.String(), "zone", zone, "answer", a)
				return zone
			}
		}
	}
	return ""
}

// reverseName is the DNSBL query name of the client: reversed octets for
// IPv4, reversed nibbles for IPv6.
func reverseName(cc *clientConn) string {
	ip := cc.ip
	if !ip.IsValid() {
		return ""
	}
	b := ip.AsSlice()
	var parts []string
	if ip.Is4() {
		for i := len(b) - 1; i >= 0; i-- {
			parts = append(parts, strconv.Itoa(int(b[i])))
		}
	} else {
		for i := len(b) - 1; i >= 0; i-- {
			parts = append(parts, fmt.Sprintf("%x", b[i]&0xf), fmt.Sprintf("%x", b[i]>>4))
		}
	}
	return strings.Join(parts, ".")
}
