package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The words that SEARCH looks for: every message has a sender of
// senderPool and a subject "message N"; about one in fifty has the needle
// in its body.
const (
	senderPool = 50
	needle     = "zanzibar"
)

var words = strings.Fields(`the quick brown fox jumps over lazy dog meeting agenda report
	budget quarter invoice shipment project deadline review draft proposal customer support
	ticket release notes server backup weekend lunch coffee thanks regards please attached`)

// message builds a deterministic test message number i for user: CRLF
// line endings, 70 % plain text (1-6 KB), 20 % multipart/alternative (text
// and HTML), 10 % multipart/mixed with a base64 attachment of about 8 KB,
// so that BODYSTRUCTURE and BODY[] have real structure to walk.
func message(seed uint64, user string, i int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	var b strings.Builder
	s := i % senderPool
	fmt.Fprintf(&b, "From: Sender %d <sender%d@remote.test>\r\n", s, s)
	fmt.Fprintf(&b, "To: %s\r\n", user)
	if r.IntN(4) == 0 {
		fmt.Fprintf(&b, "Cc: \"Colleague %d\" <colleague%d@remote.test>, team@remote.test\r\n", s, s)
	}
	fmt.Fprintf(&b, "Subject: message %d %s\r\n", i, phrase(r, 4))
	fmt.Fprintf(&b, "Date: Mon, %d Jan 2026 %02d:%02d:05 +0000\r\n", 1+i%28, i%24, i%60)
	fmt.Fprintf(&b, "Message-ID: <%d.%x@remote.test>\r\n", i, r.Uint32())
	if i > 0 && r.IntN(3) == 0 {
		fmt.Fprintf(&b, "In-Reply-To: <%d.0@remote.test>\r\nReferences: <%d.0@remote.test>\r\n", i-1, i-1)
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	text := body(r, 1024+r.IntN(5*1024), i%senderPool == 7)
	switch k := r.IntN(10); {
	case k < 7:
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString(text)
	case k < 9:
		b.WriteString("Content-Type: multipart/alternative; boundary=\"alt-b\"\r\n\r\n")
		b.WriteString("--alt-b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text)
		b.WriteString("--alt-b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>")
		b.WriteString(strings.ReplaceAll(text, "\r\n", "<br>\r\n"))
		b.WriteString("</p></body></html>\r\n--alt-b--\r\n")
	default:
		b.WriteString("Content-Type: multipart/mixed; boundary=\"mix-b\"\r\n\r\n")
		b.WriteString("--mix-b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text)
		b.WriteString("--mix-b\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n" +
			"Content-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		for l := 0; l < 108; l++ { // 108 lines of 76 = 8 KB
			for c := 0; c < 76; c++ {
				b.WriteByte(b64[r.IntN(64)])
			}
			b.WriteString("\r\n")
		}
		b.WriteString("--mix-b--\r\n")
	}
	return []byte(b.String())
}

// draft is the small message a client saves (about 600 octets).
func draft(user string, n int) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: colleague%d@remote.test\r\nSubject: draft %d\r\n"+
		"Date: Tue, 3 Feb 2026 10:00:00 +0000\r\nMessage-ID: <draft.%d.%s>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\n%s", user, n%senderPool, n, n, user,
		strings.Repeat("A few lines of a draft that is saved now and then.\r\n", 9)))
}

// body returns about size octets of text lines, with the needle when asked.
func body(r *rand.Rand, size int, withNeedle bool) string {
	var b strings.Builder
	for b.Len() < size {
		b.WriteString(phrase(r, 8+r.IntN(6)))
		b.WriteString("\r\n")
	}
	if withNeedle {
		b.WriteString("travel plans: " + needle + " in june\r\n")
	}
	return b.String()
}

func phrase(r *rand.Rand, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = words[r.IntN(len(words))]
	}
	return strings.Join(p, " ")
}
