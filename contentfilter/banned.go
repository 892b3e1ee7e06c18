package contentfilter

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"path"
	"strings"
)

// DefaultBannedExtensions are the file types a Windows client runs or
// installs when opened: executables, scripts for the Windows Script Host
// and PowerShell, installers, shortcuts and help files that run code
// (the lists of Microsoft Outlook's blocked attachments and of
// amavis's banned_filename_re, in part).
var DefaultBannedExtensions = []string{
	"ade", "adp", "app", "appx", "bas", "bat", "chm", "cmd", "com", "cpl", "crt", "dll",
	"exe", "hlp", "hta", "inf", "ins", "isp", "jar", "js", "jse", "lnk", "mde", "msc",
	"msi", "msix", "msp", "mst", "pif", "ps1", "psm1", "reg", "scr", "sct", "shb", "shs",
	"vb", "vbe", "vbs", "wsc", "wsf", "wsh",
}

// DefaultBannedTypes are the MIME types of Windows executables and
// installers, for parts that carry no name.
var DefaultBannedTypes = []string{
	"application/x-msdownload", "application/x-msdos-program", "application/x-dosexec",
	"application/x-ms-installer", "application/x-msi", "application/hta",
	"application/x-ms-shortcut",
}

// Banned says which attachments a message may not carry.
type Banned struct {
	Extensions []string // lower case, without the dot
	Types      []string // lower case type/subtype
	// InsideZip also checks the names of the files in ZIP archives
	// (names only: nothing is extracted).
	InsideZip bool
}

// maxZipEntries bounds the names read from one archive.
const maxZipEntries = 10000

// bannedName returns the banned extension of name, or "". The extension
// is what Windows takes: after the last dot, trailing dots and spaces
// ignored ("invoice.pdf.exe", "x.EXE.", "x.exe  " are all .exe).
func (b *Banned) bannedName(name string) string {
	n := strings.ToLower(strings.TrimRight(name, ". \t"))
	// Names in archives and some clients carry a path.
	if i := strings.LastIndexAny(n, `/\`); i >= 0 {
		n = n[i+1:]
	}
	dot := strings.LastIndexByte(n, '.')
	if dot < 0 {
		return ""
	}
	ext := n[dot+1:]
	for _, e := range b.Extensions {
		if ext == e {
			return ext
		}
	}
	return ""
}

func (b *Banned) bannedType(t string) bool {
	for _, x := range b.Types {
		if t == x {
			return true
		}
	}
	return false
}

// check returns why p is banned ("" when it is not): a banned name or
// type of its own, or a banned name inside it when it is a ZIP archive.
func (b *Banned) check(p *Part) string {
	for _, n := range p.Filenames {
		if ext := b.bannedName(n); ext != "" {
			return fmt.Sprintf("attachment %q: file type .%s not allowed", n, ext)
		}
	}
	if b.bannedType(p.MediaType) {
		return fmt.Sprintf("attachment %s: type %s not allowed", p.describe(), p.MediaType)
	}
	if b.InsideZip && isZip(p) {
		for _, n := range zipNames(decodeBody(p)) {
			if ext := b.bannedName(n); ext != "" {
				return fmt.Sprintf("attachment %s: archive holds %q: file type .%s not allowed", p.describe(), n, ext)
			}
		}
	}
	return ""
}

func isZip(p *Part) bool {
	switch p.MediaType {
	case "application/zip", "application/x-zip-compressed", "application/x-zip":
		return true
	}
	for _, n := range p.Filenames {
		if strings.EqualFold(path.Ext(strings.TrimSpace(n)), ".zip") {
			return true
		}
	}
	return false
}

// zipNames lists the file names in a ZIP archive (its central
// directory), at most maxZipEntries; nothing for what is not one.
func zipNames(data []byte) []string {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil
	}
	var out []string
	for i, f := range zr.File {
		if i == maxZipEntries {
			break
		}
		out = append(out, f.Name)
	}
	return out
}

// decodeBody undoes the part's Content-Transfer-Encoding (base64,
// quoted-printable), leniently: what cannot be decoded ends the data.
func decodeBody(p *Part) []byte {
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &base64Filter{b: p.Body})
	case "quoted-printable":
		r = quotedprintable.NewReader(bytes.NewReader(p.Body))
	default:
		return p.Body
	}
	out, _ := io.ReadAll(r) // a decoding error keeps what came before it
	return out
}

// base64Filter yields only the base64 alphabet and padding: line ends,
// spaces and garbage are dropped, as mail readers do (RFC 2045 6.8).
type base64Filter struct {
	b   []byte
	pos int
}

func (f *base64Filter) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && f.pos < len(f.b) {
		c := f.b[f.pos]
		f.pos++
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
			p[n] = c
			n++
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}
