package web

import (
	"bytes"
	"crypto/sha1"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
)

// An Apple configuration profile (.mobileconfig) sets up the owner's
// account in Apple Mail on macOS, iOS and iPadOS: one unsigned profile
// holding one com.apple.mail.managed payload with the IMAP (or POP3)
// and SMTP settings. It carries no password: the device asks for it
// when the profile is installed.

// plistValue is a value of a property list: string, int, bool, a dict
// ([]plistEntry) or an array ([]any).
type plistEntry struct {
	Key   string
	Value any
}

// writePlist writes v in Apple's XML property list format.
func writePlist(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case string:
		b.WriteString("<string>")
		xml.EscapeText(b, []byte(v))
		b.WriteString("</string>")
	case int:
		b.WriteString("<integer>" + strconv.Itoa(v) + "</integer>")
	case bool:
		if v {
			b.WriteString("<true/>")
		} else {
			b.WriteString("<false/>")
		}
	case []plistEntry:
		b.WriteString("<dict>\n")
		for _, e := range v {
			b.WriteString("<key>")
			xml.EscapeText(b, []byte(e.Key))
			b.WriteString("</key>")
			writePlist(b, e.Value)
			b.WriteByte('\n')
		}
		b.WriteString("</dict>")
	case []any:
		b.WriteString("<array>\n")
		for _, e := range v {
			writePlist(b, e)
			b.WriteByte('\n')
		}
		b.WriteString("</array>")
	default:
		panic(fmt.Sprintf("plist: unsupported type %T", v))
	}
}

// profileUUID is a UUID (version 5 layout) derived from name, so the same
// account always gets the same profile and installing it again replaces
// the old one instead of adding a second account.
func profileUUID(name string) string {
	h := sha1.Sum([]byte("mailhost mobileconfig " + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// mobileconfig returns the profile for the mailbox address.
func mobileconfig(c Client, addr string) ([]byte, error) {
	in := endpoints(c.IMAPS, c.IMAP)
	inType := "EmailTypeIMAP"
	if len(in) == 0 {
		in, inType = endpoints(c.POP3S, c.POP3), "EmailTypePOP"
	}
	out := endpoints(c.Submissions, c.Submission)
	if len(in) == 0 || len(out) == 0 {
		return nil, fmt.Errorf("mobileconfig: no listener for mail clients is enabled")
	}
	id := "mailhost." + c.Host + "." + addr
	account := []plistEntry{
		{"EmailAccountDescription", addr},
		{"EmailAccountName", addr},
		{"EmailAccountType", inType},
		{"EmailAddress", addr},
		{"IncomingMailServerAuthentication", "EmailAuthPassword"},
		{"IncomingMailServerHostName", c.Host},
		{"IncomingMailServerPortNumber", in[0].Port},
		{"IncomingMailServerUseSSL", true}, // STARTTLS on 143/110, TLS at once on 993/995
		{"IncomingMailServerUsername", addr},
		{"OutgoingMailServerAuthentication", "EmailAuthPassword"},
		{"OutgoingMailServerHostName", c.Host},
		{"OutgoingMailServerPortNumber", out[0].Port},
		{"OutgoingMailServerUseSSL", true},
		{"OutgoingMailServerUsername", addr},
		{"OutgoingPasswordSameAsIncomingPassword", true},
		{"PayloadDescription", "Mail account " + addr},
		{"PayloadDisplayName", addr},
		{"PayloadIdentifier", id + ".mail"},
		{"PayloadType", "com.apple.mail.managed"},
		{"PayloadUUID", profileUUID(id + ".mail")},
		{"PayloadVersion", 1},
	}
	profile := []plistEntry{
		{"PayloadContent", []any{account}},
		{"PayloadDescription", "Sets up the mail account " + addr + " on " + c.Host + "."},
		{"PayloadDisplayName", "Mail: " + addr},
		{"PayloadIdentifier", id},
		{"PayloadRemovalDisallowed", false},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", profileUUID(id)},
		{"PayloadVersion", 1},
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n")
	writePlist(&b, profile)
	b.WriteString("\n</plist>\n")
	return b.Bytes(), nil
}

// ownerMobileconfig downloads the owner's profile.
func (h *Handler) ownerMobileconfig(w http.ResponseWriter, r *http.Request) {
	m, err := h.svc.OwnMailbox(r.Context(), current(r).Owner)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := mobileconfig(h.opts.Client, m.Address)
	if err != nil {
		h.errorPage(w, r, http.StatusNotFound, "No profile", "This server has no IMAP, POP3 or submission listener enabled for mail clients.")
		return
	}
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Header().Set("Content-Disposition", `attachment; filename="mail.mobileconfig"`)
	w.Write(body)
}
