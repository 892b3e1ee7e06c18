package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Mailbox is one user's Maildir++ tree. The zero Sep means '/'.
type Mailbox struct {
	Path  string     // the INBOX directory, <root>/<domain>/<local_part>
	Owner Owner      // applied to what is created, when running as root
	Sep   rune       // hierarchy separator of the IMAP names its methods take and return: '/' or '.'
	Names *Generator // used by Deliver and Link in its folders
}

func (m Mailbox) sep() rune {
	if m.Sep == 0 {
		return '/'
	}
	return m.Sep
}

// Create makes the mailbox <root>/<domain>/<localPart> with cur/ new/ tmp/
// and the standard folders (StandardFolders), and returns its path. It is
// idempotent: on an existing mailbox it adds whatever is missing and never
// removes or changes anything. Everything it creates is DirMode/FileMode and,
// when running as root, owned by owner (missing parents of root included).
func Create(root, domain, localPart string, owner Owner) (string, error) {
	path, err := MailboxPath(root, domain, localPart)
	if err != nil {
		return "", err
	}
	if err := makeMaildir(path, owner, false); err != nil {
		return "", err
	}
	for _, f := range StandardFolders()[1:] {
		dir, err := DirName(f.Name, '/')
		if err != nil {
			return "", err
		}
		if err := makeMaildir(filepath.Join(path, dir), owner, true); err != nil {
			return "", err
		}
	}
	return path, nil
}

// makeMaildir creates dir with cur/ new/ tmp/ and, for a folder (not
// INBOX), the Maildir++ "maildirfolder" marker file, filling in what is
// missing.
func makeMaildir(dir string, o Owner, folder bool) error {
	if err := mkdirAll(dir, o); err != nil {
		return err
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := mkdirAll(filepath.Join(dir, sub), o); err != nil {
			return err
		}
	}
	if folder {
		return createEmptyFile(filepath.Join(dir, "maildirfolder"), o)
	}
	return nil
}

// Folder returns the folder with IMAP name name. It fails with an error
// matching fs.ErrNotExist if the folder's directory does not exist.
func (m Mailbox) Folder(name string) (Folder, error) {
	dir, err := DirName(name, m.sep())
	if err != nil {
		return Folder{}, err
	}
	path := filepath.Join(m.Path, dir)
	fi, err := os.Stat(path)
	if err != nil {
		return Folder{}, fmt.Errorf("maildir: folder %q: %w", name, err)
	}
	if !fi.IsDir() {
		return Folder{}, fmt.Errorf("maildir: folder %q: %s is not a directory", name, path)
	}
	return Folder{Path: path, Owner: m.Owner, Names: m.Names}, nil
}

// CreateFolder creates a folder with cur/ new/ tmp/ and the maildirfolder
// marker. It fails with an error matching fs.ErrExist if the folder's
// directory exists (INBOX always does). As in Dovecot's Maildir++ layout,
// parents are not created: "A/B" may exist without "A".
func (m Mailbox) CreateFolder(name string) error {
	dir, err := DirName(name, m.sep())
	if err != nil {
		return err
	}
	path := filepath.Join(m.Path, dir)
	if dir == "" {
		return fmt.Errorf("maildir: create folder %q: %w", name, fs.ErrExist)
	}
	if err := os.Mkdir(path, DirMode); err != nil {
		return fmt.Errorf("maildir: create folder %q: %w", name, err)
	}
	if err := os.Chmod(path, DirMode); err != nil {
		return fmt.Errorf("maildir: create folder %q: %w", name, err)
	}
	if err := m.Owner.chown(path); err != nil {
		return err
	}
	return makeMaildir(path, m.Owner, true)
}

// DeleteFolder removes a folder and every message in it. Its children
// (".A.B" for "A") are separate folders and stay. The directory is first
// renamed into the mailbox's tmp/, so it vanishes from listings at once and a
// failure half-way leaves debris only there. INBOX cannot be deleted.
func (m Mailbox) DeleteFolder(name string) error {
	dir, err := DirName(name, m.sep())
	if err != nil {
		return err
	}
	if dir == "" {
		return &NameError{What: "folder name", Name: name, Reason: "INBOX cannot be deleted"}
	}
	path := filepath.Join(m.Path, dir)
	if _, err := os.Lstat(path); err != nil {
		return fmt.Errorf("maildir: delete folder %q: %w", name, err)
	}
	trash := filepath.Join(m.Path, "tmp", "deleted"+dir+"."+
		strconv.FormatInt(time.Now().UnixNano(), 10)+"P"+strconv.Itoa(os.Getpid()))
	if err := os.Rename(path, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) && !exists(filepath.Join(m.Path, "tmp")) {
			trash = path // no tmp/ to stage in: remove in place
		} else {
			return fmt.Errorf("maildir: delete folder %q: %w", name, err)
		}
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("maildir: delete folder %q: %w", name, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// RenameFolder renames folder oldName to newName together with its children
// (".A.B" becomes ".C.B" when "A" becomes "C"). The folder itself need not
// exist if it has children. It fails with fs.ErrNotExist if there is nothing
// to rename, fs.ErrExist if newName or any renamed child's target exists, and
// refuses to rename a folder below itself. If a rename fails half-way, those
// already done are undone.
//
// Renaming INBOX follows RFC 3501 6.3.5: a new folder newName is created and
// every message of INBOX moves into it; INBOX stays, empty, and its children
// are not renamed.
func (m Mailbox) RenameFolder(oldName, newName string) error {
	oldDir, err := DirName(oldName, m.sep())
	if err != nil {
		return err
	}
	newDir, err := DirName(newName, m.sep())
	if err != nil {
		return err
	}
	if newDir == "" {
		return fmt.Errorf("maildir: rename folder %q to INBOX: %w", oldName, fs.ErrExist)
	}
	if oldDir == "" {
		return m.renameInbox(newName)
	}
	if newDir == oldDir || strings.HasPrefix(newDir, oldDir+".") {
		return &NameError{What: "folder name", Name: newName, Reason: "cannot rename a folder below itself"}
	}
	entries, err := os.ReadDir(m.Path)
	if err != nil {
		return fmt.Errorf("maildir: rename folder %q: %w", oldName, err)
	}
	var moves [][2]string // relative dir names: from, to
	for _, e := range entries {
		n := e.Name()
		if n == newDir || strings.HasPrefix(n, newDir+".") {
			return fmt.Errorf("maildir: rename folder %q to %q: %s %w", oldName, newName, n, fs.ErrExist)
		}
		if n == oldDir || strings.HasPrefix(n, oldDir+".") {
			if e.IsDir() {
				moves = append(moves, [2]string{n, newDir + n[len(oldDir):]})
			}
		}
	}
	if len(moves) == 0 {
		return fmt.Errorf("maildir: rename folder %q: %w", oldName, fs.ErrNotExist)
	}
	if len(newDir) > maxNameLen {
		return &NameError{What: "folder name", Name: newName, Reason: "longer than 255 bytes on disk"}
	}
	for i, mv := range moves {
		if len(mv[1]) > maxNameLen {
			return &NameError{What: "folder name", Name: newName, Reason: "a child would be longer than 255 bytes on disk"}
		}
		err := os.Rename(filepath.Join(m.Path, mv[0]), filepath.Join(m.Path, mv[1]))
		if err != nil {
			for _, done := range moves[:i] { // best effort undo
				_ = os.Rename(filepath.Join(m.Path, done[1]), filepath.Join(m.Path, done[0]))
			}
			return fmt.Errorf("maildir: rename folder %q to %q: %w", oldName, newName, err)
		}
	}
	return nil
}

// renameInbox moves every message of INBOX into a new folder (RFC 3501
// 6.3.5). File names are kept: keys are unique per folder.
func (m Mailbox) renameInbox(newName string) error {
	if err := m.CreateFolder(newName); err != nil {
		return err
	}
	dst, err := m.Folder(newName)
	if err != nil {
		return err
	}
	for _, sub := range []string{"new", "cur"} {
		names, err := readNames(filepath.Join(m.Path, sub))
		if err != nil {
			return fmt.Errorf("maildir: rename INBOX: %w", err)
		}
		for _, n := range names {
			if strings.HasPrefix(n, ".") {
				continue
			}
			err := os.Rename(filepath.Join(m.Path, sub, n), filepath.Join(dst.Path, sub, n))
			if err != nil && !errors.Is(err, fs.ErrNotExist) { // gone: expunged or moved meanwhile
				return fmt.Errorf("maildir: rename INBOX: %w", err)
			}
		}
		if err := syncDir(filepath.Join(dst.Path, sub)); err != nil {
			return err
		}
	}
	return nil
}

// readNames lists the entry names of a directory without sorting or
// stat-ing them.
func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// ListFolders returns the IMAP names of the mailbox's folders: "INBOX"
// first, then the others sorted. Any directory starting with '.' counts as a
// folder (as in Dovecot), even if its parent levels do not exist; directories
// whose names FolderName rejects are skipped. Symlinks are not followed.
func (m Mailbox) ListFolders() ([]string, error) {
	entries, err := os.ReadDir(m.Path)
	if err != nil {
		return nil, fmt.Errorf("maildir: list folders: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name, err := FolderName(e.Name(), m.sep())
		if err != nil {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return append([]string{"INBOX"}, names...), nil
}
