package tlsrpt

import (
	"errors"
	"net/mail"
	"net/url"
	"strings"
)

// ErrNoRecord says a domain publishes no usable TLSRPT record.
var ErrNoRecord = errors.New("no TLSRPT record")

// RUA is where a domain wants its reports: mailto addresses and https
// URLs.
type RUA struct {
	Mail  []string
	HTTPS []string
}

// isTLSRPT says the record is of version TLSRPTv1: "v=TLSRPTv1", then
// nothing or a field delimiter (RFC 8460 3: *WSP ";" *WSP), so that
// "v=TLSRPTv10" is another version.
func isTLSRPT(t string) bool {
	rest, ok := strings.CutPrefix(t, "v=TLSRPTv1")
	rest = strings.TrimLeft(rest, " \t")
	return ok && (rest == "" || rest[0] == ';')
}

// ParseRecords reads the "_smtp._tls" TXT records of a domain (RFC 8460
// 3): exactly one must start with "v=TLSRPTv1"; its rua field lists
// mailto: and https: URIs separated by commas. Unknown fields and other
// schemes are ignored; a record with no usable URI is ErrNoRecord.
func ParseRecords(txts []string) (RUA, error) {
	var rec string
	n := 0
	for _, t := range txts {
		if isTLSRPT(t) {
			rec = t
			n++
		}
	}
	if n != 1 { // 3: more than one record is as none
		return RUA{}, ErrNoRecord
	}
	var out RUA
	for _, field := range strings.Split(rec, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "rua") {
			continue
		}
		for _, uri := range strings.Split(v, ",") {
			u, err := url.Parse(strings.TrimSpace(uri))
			if err != nil {
				continue
			}
			switch strings.ToLower(u.Scheme) {
			case "mailto":
				if a, err := mail.ParseAddress(u.Opaque); err == nil {
					out.Mail = append(out.Mail, a.Address)
				}
			case "https":
				out.HTTPS = append(out.HTTPS, u.String())
			}
		}
	}
	if len(out.Mail) == 0 && len(out.HTTPS) == 0 {
		return RUA{}, ErrNoRecord
	}
	return out, nil
}
