package maildir

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ScanResult is what Scan found in a folder.
type ScanResult struct {
	// Messages are the message files of new/ and cur/, one per key, in
	// delivery order as far as the names tell (time, then microseconds,
	// then key).
	Messages []Message
	// Skipped are files that are not usable messages: garbage names,
	// non-regular files, a second file with a key already seen.
	Skipped []Skipped
}

// Skipped is a file Scan did not take, and why.
type Skipped struct {
	Path string
	Err  error
}

// Scan lists every message file in new/ and cur/ with its parsed name and
// stat data, for reindex and for adopting files placed by other programs.
// tmp/ and dot-files are ignored; names ParseName rejects, non-regular files
// and duplicate keys are reported in Skipped, never fatal. A file renamed
// by another process while Scan runs is reported once: new/ is read before
// cur/, and the cur/ copy wins. Only a failure to read new/ or cur/ is an
// error.
func (f Folder) Scan() (ScanResult, error) {
	var res ScanResult
	byKey := map[string]int{} // key -> index in res.Messages
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(f.Path, sub)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return ScanResult{}, fmt.Errorf("maildir: scan %s: %w", dir, err)
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			path := filepath.Join(dir, name)
			skip := func(err error) { res.Skipped = append(res.Skipped, Skipped{Path: path, Err: err}) }
			if !e.Type().IsRegular() {
				skip(fmt.Errorf("maildir: %s is not a regular file", path))
				continue
			}
			info, err := ParseName(name)
			if err != nil {
				skip(err)
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // renamed or expunged meanwhile
			}
			if err != nil {
				skip(fmt.Errorf("maildir: %w", err))
				continue
			}
			m := newMessage(info, sub, path, fi)
			i, dup := byKey[info.Key]
			if !dup {
				byKey[info.Key] = len(res.Messages)
				res.Messages = append(res.Messages, m)
				continue
			}
			prev := res.Messages[i]
			if prev.Sub == "new" && sub == "cur" {
				res.Messages[i] = m
				if !exists(prev.Path) {
					continue // moved from new/ to cur/ while scanning
				}
				m = prev
			}
			res.Skipped = append(res.Skipped, Skipped{Path: m.Path,
				Err: fmt.Errorf("maildir: %s: key %q is also %s", m.Path, info.Key, res.Messages[i].Path)})
		}
	}
	slices.SortFunc(res.Messages, func(a, b Message) int {
		as, au := keyTime(a.Key)
		bs, bu := keyTime(b.Key)
		return cmp.Or(cmp.Compare(as, bs), cmp.Compare(au, bu), strings.Compare(a.Key, b.Key))
	})
	return res, nil
}

// keyTime reads the delivery time from a key "<sec>.M<usec>P...": seconds
// and microseconds, -1 where the key does not say (other programs' names
// sort first, by key).
func keyTime(key string) (sec, usec int64) {
	sec, usec = -1, -1
	dot := strings.IndexByte(key, '.')
	if dot < 0 {
		return
	}
	s, err := strconv.ParseInt(key[:dot], 10, 64)
	if err != nil {
		return
	}
	sec = s
	rest := key[dot+1:]
	if !strings.HasPrefix(rest, "M") {
		return
	}
	end := 1
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	if u, err := strconv.ParseInt(rest[1:end], 10, 64); err == nil {
		usec = u
	}
	return
}
