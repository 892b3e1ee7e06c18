package tlsrpt

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"
	"time"
)

// Message is the report mail (RFC 8460 5.3): a multipart/report of
// report-type tlsrpt with a short text and the gzipped JSON, the
// TLS-Report-Domain and TLS-Report-Submitter fields, and the Subject the
// RFC gives. Lines end in CRLF.
func Message(sub Submitter, from string, to []string, domain string, r Report, gz []byte, now time.Time) ([]byte, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	var h bytes.Buffer
	for _, f := range [][2]string{
		{"From", from},
		{"To", strings.Join(to, ", ")},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + r.ReportID + ">"},
		{"Subject", fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", domain, sub.Host, r.ReportID)},
		{"TLS-Report-Domain", domain},
		{"TLS-Report-Submitter", sub.Host},
		{"Auto-Submitted", "auto-generated"}, // RFC 3834: no vacation replies
		{"MIME-Version", "1.0"},
		{"Content-Type", `multipart/report; report-type="tlsrpt"; boundary="` + mw.Boundary() + `"`},
	} {
		fmt.Fprintf(&h, "%s: %s\r\n", f[0], f[1])
	}
	h.WriteString("\r\n")

	text, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=us-ascii"}})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(text, "This is an aggregate TLS report (RFC 8460) from %s for %s,\r\nfrom %s to %s (UTC).\r\n",
		sub.Host, domain, r.DateRange.Start.Format(time.DateTime), r.DateRange.End.Format(time.DateTime))
	att, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"application/tlsrpt+gzip"},
		"Content-Transfer-Encoding": {"base64"},
		"Content-Disposition":       {`attachment; filename="` + r.FileName(sub, domain) + `"`},
	})
	if err != nil {
		return nil, err
	}
	enc := base64.StdEncoding.EncodeToString(gz)
	for len(enc) > 76 {
		fmt.Fprintf(att, "%s\r\n", enc[:76])
		enc = enc[76:]
	}
	fmt.Fprintf(att, "%s\r\n", enc)
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return append(h.Bytes(), body.Bytes()...), nil
}
