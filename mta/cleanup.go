package mta

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"mailhost/mailheader"
	smtp "mailhost/smtpd"
)

// deliveredTo reports a Delivered-To field whose value is addr, bare or
// in angle brackets (case-insensitive), as Postfix compares it.
func deliveredTo(h *mailheader.Header, addr string) bool {
	for f := h.FieldsByKey("Delivered-To"); f.Next(); {
		v := strings.TrimSpace(f.Value())
		v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
		if strings.EqualFold(v, addr) {
			return true
		}
	}
	return false
}

// checkBody refuses what RFC 5321 forbids in message data: NUL bytes and
// bare LF (2.3.8: lines end with CRLF; a bare LF is also how SMTP
// smuggling starts). 8-bit data without BODY=8BITMIME is accepted, as
// Postfix does by default (strict_8bitmime = no).
func checkBody(b []byte) *smtp.SMTPError {
	if bytes.IndexByte(b, 0) >= 0 {
		return smtpErr(554, smtp.EnhancedCode{5, 6, 0}, "Message contains NUL characters")
	}
	for i := bytes.IndexByte(b, '\n'); i >= 0; {
		if i == 0 || b[i-1] != '\r' {
			return smtpErr(554, smtp.EnhancedCode{5, 6, 0},
				"Message contains bare <LF>; lines must end with <CR><LF> (RFC 5321 2.3.8)")
		}
		j := bytes.IndexByte(b[i+1:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return nil
}

func tlsDescription(st tls.ConnectionState) string {
	// Postfix's wording, which log parsers know: "using TLSv1.3 with cipher ...".
	v := strings.Replace(tls.VersionName(st.Version), "TLS ", "TLSv", 1)
	return fmt.Sprintf("using %s with cipher %s", v, tls.CipherSuiteName(st.CipherSuite))
}

type cleanupInput struct {
	hostname, helo, ip, tls string
	utf8                    bool
	qid                     string
	rcpts                   []rcpt
	now                     time.Time
	h                       *mailheader.Header
	// Submission: the client logged in (RFC 3848 ESMTPA/ESMTPSA); its
	// address and HELO name stay out of the header unless configured;
	// addFrom is the From line of a message without one.
	auth, hideClient bool
	addFrom          string
	// rdns is the client's forward-confirmed name ("unknown" without
	// one) when the inbound checks ran, else ""; authResults their
	// Authentication-Results field, first of the added lines.
	rdns        string
	authResults []byte
}

// cleanupHeader returns the header lines the server adds to an accepted
// message, as Postfix's smtpd and cleanup do: a Received line first (RFC
// 5321 4.4), then a Message-ID and a Date when the message has none.
func cleanupHeader(in cleanupInput) []byte {
	var b strings.Builder
	b.Write(in.authResults)
	proto := "ESMTP"
	if in.utf8 {
		proto = "UTF8SMTP" // RFC 6531 3.7.3
	}
	if in.tls != "" {
		proto += "S" // RFC 3848
	}
	if in.auth {
		proto += "A" // RFC 3848
	}
	if in.hideClient {
		b.WriteString("Received: by " + in.hostname)
		if in.tls != "" {
			fmt.Fprintf(&b, "\r\n\t(%s)", in.tls)
		}
		fmt.Fprintf(&b, "\r\n\t(mailhost) with %s id %s", proto, in.qid)
	} else {
		helo := sanitize(in.helo)
		if in.rdns != "" {
			fmt.Fprintf(&b, "Received: from %s (%s [%s])\r\n", helo, sanitize(in.rdns), in.ip)
		} else {
			fmt.Fprintf(&b, "Received: from %s ([%s])\r\n", helo, in.ip)
		}
		if in.tls != "" {
			fmt.Fprintf(&b, "\t(%s)\r\n", in.tls)
		}
		fmt.Fprintf(&b, "\tby %s (mailhost) with %s id %s", in.hostname, proto, in.qid)
	}
	if len(in.rcpts) == 1 {
		// One recipient only, so as not to disclose Bcc recipients.
		fmt.Fprintf(&b, "\r\n\tfor <%s>", sanitize(in.rcpts[0].given))
	}
	fmt.Fprintf(&b, "; %s\r\n", in.now.Format(time.RFC1123Z))
	if !in.h.Has("Message-Id") {
		fmt.Fprintf(&b, "Message-ID: <%s.%s@%s>\r\n", in.now.UTC().Format("20060102150405"), in.qid, in.hostname)
	}
	if !in.h.Has("Date") {
		fmt.Fprintf(&b, "Date: %s\r\n", in.now.Format(time.RFC1123Z))
	}
	b.WriteString(in.addFrom)
	return []byte(b.String())
}

// sanitize keeps client-given text from breaking the header: controls and
// the characters that would end a comment become '?'.
func sanitize(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '(' || r == ')' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}
