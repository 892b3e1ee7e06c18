package pfaimport

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"mailhost/maildir"
)

// uidList is a folder's dovecot-uidlist: the UIDVALIDITY, the next UID and
// each message's UID (and POP3 UIDL, when Dovecot saved one) by Maildir key.
type uidList struct {
	UIDValidity uint32
	NextUID     uint32
	Entries     map[string]uidEntry
}

type uidEntry struct {
	UID  uint32
	UIDL string // the P extension field: the POP3 UIDL Dovecot saved or migrated
}

// readUIDList reads dir/dovecot-uidlist, versions 1 and 3 of Dovecot's
// format (Dovecot 1.0 to 2.3). A missing file is (nil, nil): Dovecot never
// opened the folder, so no client has cached UIDs of it.
//
//	3 V1700000000 N4 G3085f01b...     header: version, UIDVALIDITY, next UID, GUID
//	1 :1700000000.M1P2.host,S=100,W=102
//	3 W4321 P0123abcd :1700000001.M2P2.host
//
//	1 1700000000 4                    version 1 header
//	1 1700000000.M1P2.host
func readUIDList(dir string) (*uidList, error) {
	f, err := os.Open(filepath.Join(dir, "dovecot-uidlist"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pfaimport: %w", err)
	}
	defer f.Close()
	return parseUIDList(f, f.Name())
}

// parseUIDList reads a dovecot-uidlist from r (name for errors).
func parseUIDList(r io.Reader, name string) (*uidList, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	bad := func(why string) error { return fmt.Errorf("pfaimport: %s: %s", name, why) }
	if !sc.Scan() {
		return nil, bad("empty")
	}
	l := &uidList{Entries: map[string]uidEntry{}}
	hdr := strings.Fields(sc.Text())
	if len(hdr) < 3 {
		return nil, bad("short header")
	}
	version := hdr[0]
	switch version {
	case "1":
		l.UIDValidity, l.NextUID = parseUint32(hdr[1]), parseUint32(hdr[2])
	case "3":
		for _, h := range hdr[1:] {
			switch {
			case strings.HasPrefix(h, "V"):
				l.UIDValidity = parseUint32(h[1:])
			case strings.HasPrefix(h, "N"):
				l.NextUID = parseUint32(h[1:])
			}
		}
	default:
		return nil, bad("unknown version " + version)
	}
	if l.UIDValidity == 0 {
		return nil, bad("no UIDVALIDITY")
	}
	for sc.Scan() {
		line := sc.Text()
		uidText, rest, ok := strings.Cut(line, " ")
		uid := parseUint32(uidText)
		if !ok || uid == 0 {
			continue // Dovecot skips what it cannot read too
		}
		var e uidEntry
		e.UID = uid
		file := rest
		if version == "3" {
			ext, n, ok := strings.Cut(rest, ":")
			if !ok {
				continue
			}
			file = n
			for _, x := range strings.Fields(ext) {
				if strings.HasPrefix(x, "P") && len(x) > 1 {
					e.UIDL = x[1:]
				}
			}
		}
		key, _, _ := strings.Cut(file, ":") // the base name; flags after ":2," never counted
		if key != "" {
			l.Entries[key] = e
		}
	}
	if err := sc.Err(); err != nil {
		return nil, bad(err.Error())
	}
	return l, nil
}

func parseUint32(s string) uint32 {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// readKeywords reads dir/dovecot-keywords: "<index> <keyword>" lines,
// index 0 being the letter 'a' in file names, 25 'z'.
func readKeywords(dir string) (map[byte]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "dovecot-keywords"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pfaimport: %w", err)
	}
	out := map[byte]string{}
	for _, line := range strings.Split(string(b), "\n") {
		idx, kw, ok := strings.Cut(strings.TrimRight(line, "\r"), " ")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil || n < 0 || n > 25 || kw == "" {
			continue
		}
		out[byte('a'+n)] = kw
	}
	return out, nil
}

// messageFlags splits a Maildir flag string into IMAP system flags and
// keywords (lower-case letters through the folder's dovecot-keywords;
// letters it does not name are dropped, as Dovecot does).
func messageFlags(f maildir.Flags, kw map[byte]string) (flags, keywords []string) {
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c >= 'a' && c <= 'z' {
			if k, ok := kw[c]; ok {
				keywords = append(keywords, k)
			}
			continue
		}
		if fl := maildir.IMAPFlag(c); fl != "" {
			flags = append(flags, fl)
		}
	}
	return flags, keywords
}

// readSubscriptions reads a Maildir's subscriptions file into IMAP names
// with '/' between levels. Dovecot 2.x writes version 2 ("V\t2" first,
// then one name a line with its levels separated by TAB); older versions
// one name a line with the namespace's separator, sep ('.' for Maildir++).
func readSubscriptions(home string, sep byte) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(home, "subscriptions"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pfaimport: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	levelSep := string(sep)
	if len(lines) > 0 && strings.HasPrefix(lines[0], "V\t") {
		lines, levelSep = lines[1:], "\t"
	}
	var out []string
	for _, l := range lines {
		l = strings.TrimRight(l, "\r")
		if l == "" {
			continue
		}
		name := strings.Join(strings.Split(l, levelSep), "/")
		if strings.EqualFold(name, "INBOX") {
			name = "INBOX"
		}
		out = append(out, name)
	}
	return out, nil
}

// folderDirs lists the Maildir++ folders of a Maildir: IMAP name ('/'
// between levels) → directory. Directories that are no Maildir++ folder
// name are returned in other, with why (a LAYOUT=fs tree's folders among
// them, which this import does not take).
func folderDirs(root string) (folders map[string]string, other []skipped, err error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, nil, fmt.Errorf("pfaimport: %w", err)
	}
	folders = map[string]string{"INBOX": root}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || n == "cur" || n == "new" || n == "tmp" || n == "sieve" {
			continue
		}
		path := filepath.Join(root, n)
		if !strings.HasPrefix(n, ".") {
			if _, err := os.Stat(filepath.Join(path, "cur")); err == nil {
				other = append(other, skipped{What: path, Why: "a LAYOUT=fs folder: only Maildir++ (.Folder.Sub) is imported"})
			}
			continue
		}
		name, err := maildir.FolderName(n, '/')
		if err != nil {
			other = append(other, skipped{What: path, Why: err.Error()})
			continue
		}
		if _, err := os.Stat(filepath.Join(path, "cur")); err != nil {
			other = append(other, skipped{What: path, Why: "no cur/ directory: not a Maildir folder"})
			continue
		}
		folders[name] = path
	}
	return folders, other, nil
}

// sieveFiles lists the Sieve scripts of a Dovecot home: .dovecot.sieve
// (the active script, usually a link into sieve/) and sieve/*.sieve.
func sieveFiles(home string) []string {
	var out []string
	if _, err := os.Lstat(filepath.Join(home, ".dovecot.sieve")); err == nil {
		out = append(out, filepath.Join(home, ".dovecot.sieve"))
	}
	m, _ := filepath.Glob(filepath.Join(home, "sieve", "*.sieve"))
	return append(out, m...)
}
