package maildir

import (
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// ValidateDomain checks that a domain name (as stored: lower-case IDNA
// A-labels) is safe as a directory name under the Maildir root. Only letters,
// digits, '-', '_' and non-leading, non-trailing, non-doubled dots pass, so
// "..", "/", NUL and hidden names cannot escape or hide.
func ValidateDomain(domain string) error {
	bad := func(why string) error { return &NameError{What: "domain", Name: domain, Reason: why} }
	switch {
	case domain == "":
		return bad("empty")
	case len(domain) > 253:
		return bad("longer than 253 bytes")
	case domain[0] == '.' || domain[len(domain)-1] == '.':
		return bad("starts or ends with '.'")
	case strings.Contains(domain, ".."):
		return bad("contains '..'")
	}
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if !(isLetter(c) || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return bad("only letters, digits, '-', '_' and '.' are allowed (IDNA A-label form)")
		}
	}
	return nil
}

// ValidateLocalPart checks that the local part of an address is safe as a
// directory name: valid UTF-8 (SMTPUTF8 local parts are allowed), at most 255
// bytes, not starting with '.' (which also rules out "." and ".."), and free
// of '/', '\', NUL and other control characters.
func ValidateLocalPart(local string) error {
	bad := func(why string) error { return &NameError{What: "local part", Name: local, Reason: why} }
	switch {
	case local == "":
		return bad("empty")
	case len(local) > maxNameLen:
		return bad("longer than 255 bytes")
	case local[0] == '.':
		return bad("starts with '.'")
	case !utf8.ValidString(local):
		return bad("not valid UTF-8")
	case strings.ContainsAny(local, `/\`):
		return bad(`contains '/' or '\'`)
	}
	for _, r := range local {
		if isControl(r) {
			return bad("contains a control character")
		}
	}
	return nil
}

// isControl reports C0 and C1 control characters and DEL.
func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 }

// MailboxPath returns <root>/<domain>/<localPart>, the INBOX directory of a
// mailbox, after checking that neither part can escape root.
func MailboxPath(root, domain, localPart string) (string, error) {
	if root == "" {
		return "", &NameError{What: "root", Name: root, Reason: "empty"}
	}
	if err := ValidateDomain(domain); err != nil {
		return "", err
	}
	if err := ValidateLocalPart(localPart); err != nil {
		return "", err
	}
	return filepath.Join(root, domain, localPart), nil
}

// checkSep accepts the two hierarchy separators an IMAP server may show.
func checkSep(sep rune) error {
	if sep != '/' && sep != '.' {
		return &NameError{What: "hierarchy separator", Name: string(sep), Reason: "must be '/' or '.'"}
	}
	return nil
}

// DirName maps an IMAP folder name (UTF-8, hierarchy separator sep, which
// must be '/' or '.') to its Maildir++ directory name relative to the
// mailbox root: "" for INBOX (matched case-insensitively, RFC 3501 5.1),
// ".Sent" for "Sent", ".A.B" for "A/B". Each level is stored in modified
// UTF-7 (RFC 3501 5.1.3), as Dovecot does by default.
//
// Since '.' separates levels on disk, a level may not contain '.' (nor '/',
// in either mode). Empty levels (a leading, trailing or doubled separator),
// control characters and invalid UTF-8 are rejected, which also keeps the
// result a single safe path element. A first level equal to INBOX in any
// case is written "INBOX", so "inbox/x" and "INBOX/x" are the same folder.
func DirName(name string, sep rune) (string, error) {
	if err := checkSep(sep); err != nil {
		return "", err
	}
	bad := func(why string) (string, error) {
		return "", &NameError{What: "folder name", Name: name, Reason: why}
	}
	if name == "" {
		return bad("empty")
	}
	if !utf8.ValidString(name) {
		return bad("not valid UTF-8")
	}
	if strings.EqualFold(name, "INBOX") {
		return "", nil
	}
	levels := strings.Split(name, string(sep))
	if strings.EqualFold(levels[0], "INBOX") {
		levels[0] = "INBOX"
	}
	var b strings.Builder
	for _, l := range levels {
		if l == "" {
			return bad("empty hierarchy level")
		}
		if strings.ContainsAny(l, "./") {
			return bad("a level may not contain '.' or '/' ('.' separates levels on disk)")
		}
		for _, r := range l {
			if isControl(r) {
				return bad("contains a control character")
			}
		}
		enc, err := EncodeMUTF7(l)
		if err != nil {
			return bad(err.Error())
		}
		b.WriteByte('.')
		b.WriteString(enc)
	}
	if b.Len() > maxNameLen {
		return bad("longer than 255 bytes on disk")
	}
	return b.String(), nil
}

// FolderName is the inverse of DirName: it maps a Maildir++ directory name
// (relative to the mailbox root; "" is INBOX) to the IMAP folder name with
// hierarchy separator sep. It fails for directories that DirName would never
// produce, such as ".INBOX", "..", ".a..b", ".inbox.x" or invalid modified
// UTF-7; listings skip those.
func FolderName(dir string, sep rune) (string, error) {
	if err := checkSep(sep); err != nil {
		return "", err
	}
	if dir == "" {
		return "INBOX", nil
	}
	bad := func(why string) (string, error) {
		return "", &NameError{What: "folder directory", Name: dir, Reason: why}
	}
	if dir[0] != '.' {
		return bad("does not start with '.'")
	}
	if len(dir) > maxNameLen {
		return bad("longer than 255 bytes")
	}
	levels := strings.Split(dir[1:], ".")
	if strings.EqualFold(levels[0], "INBOX") {
		if len(levels) == 1 {
			return bad("INBOX is the mailbox root, not a folder directory")
		}
		if levels[0] != "INBOX" {
			return bad("INBOX must be written in capitals")
		}
	}
	for i, l := range levels {
		if l == "" {
			return bad("empty hierarchy level")
		}
		dec, err := DecodeMUTF7(l)
		if err != nil {
			return bad(err.Error())
		}
		if strings.ContainsAny(dec, "./") {
			return bad("a level contains '.' or '/'")
		}
		for _, r := range dec {
			if isControl(r) {
				return bad("contains a control character")
			}
		}
		levels[i] = dec
	}
	return strings.Join(levels, string(sep)), nil
}

// StandardFolder is a folder every mailbox is created with.
type StandardFolder struct {
	Name       string // IMAP name (top level, so the same for either separator)
	SpecialUse string // RFC 6154 attribute, "" for INBOX
}

// StandardFolders returns the folders Create makes: INBOX, Sent, Drafts,
// Trash, Junk and Archive, with their RFC 6154 special-use attributes.
func StandardFolders() []StandardFolder {
	return []StandardFolder{
		{"INBOX", ""},
		{"Sent", `\Sent`},
		{"Drafts", `\Drafts`},
		{"Trash", `\Trash`},
		{"Junk", `\Junk`},
		{"Archive", `\Archive`},
	}
}

// SpecialUse returns the RFC 6154 attribute of a top-level standard folder
// name (exact match), or "".
func SpecialUse(name string) string {
	for _, f := range StandardFolders() {
		if f.Name == name {
			return f.SpecialUse
		}
	}
	return ""
}
