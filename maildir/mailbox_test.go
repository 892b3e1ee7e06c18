package maildir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// wantMode fails unless path has permission bits mode.
func wantMode(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
}

func TestCreateLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "vmail")
	path, err := Create(root, "example.test", "alice", Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "example.test", "alice"); path != want {
		t.Fatalf("path %q, want %q", path, want)
	}
	for _, d := range []string{root, filepath.Join(root, "example.test"), path} {
		wantMode(t, d, 0o700)
	}
	for _, f := range []string{"", ".Sent", ".Drafts", ".Trash", ".Junk", ".Archive"} {
		for _, sub := range []string{"cur", "new", "tmp"} {
			wantMode(t, filepath.Join(path, f, sub), 0o700)
		}
		marker := filepath.Join(path, f, "maildirfolder")
		if f == "" {
			if exists(marker) {
				t.Error("INBOX has a maildirfolder marker")
			}
			continue
		}
		wantMode(t, filepath.Join(path, f), 0o700)
		wantMode(t, marker, 0o600)
	}

	// Idempotent: fills in what is missing, keeps what is there.
	if err := os.RemoveAll(filepath.Join(path, ".Junk")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(path, "tmp")); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(path, "cur", "1.M1P1.h,S=0:2,S")
	if err := os.WriteFile(keep, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(root, "example.test", "alice", Owner{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(path, ".Junk", "new"), filepath.Join(path, "tmp"), keep} {
		if !exists(p) {
			t.Errorf("%s missing after second Create", p)
		}
	}

	m := Mailbox{Path: path}
	got, err := m.ListFolders()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"}; !slices.Equal(got, want) {
		t.Errorf("ListFolders = %q, want %q", got, want)
	}
	if SpecialUse("Junk") != `\Junk` || SpecialUse("INBOX") != "" || len(StandardFolders()) != 6 {
		t.Error("special-use table")
	}
}

func TestCreateChown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	root := t.TempDir()
	path, err := Create(root, "example.test", "bob", Owner{UID: 5000, GID: 5000})
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGenerator("test")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Folder{Path: path, Owner: Owner{5000, 5000}, Names: g}.Deliver(stringsReader("hi\n"), DeliverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		filepath.Join(root, "example.test"), path, filepath.Join(path, "new"),
		filepath.Join(path, ".Sent"), filepath.Join(path, ".Sent", "tmp"),
		filepath.Join(path, ".Sent", "maildirfolder"), d.Path,
	} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 5000 || st.Gid != 5000 {
			t.Errorf("%s owned by %d:%d, want 5000:5000", p, st.Uid, st.Gid)
		}
	}
	// root existed before: not ours to chown.
	fi, _ := os.Lstat(root)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 {
		t.Errorf("pre-existing root chowned to %d", st.Uid)
	}
}

func TestPathSafety(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		domain, local string
		ok            bool
	}{
		{"example.test", "alice", true},
		{"xn--bcher-kva.example", "first.last+tag", true},
		{"example.test", "jörg", true},
		{"example.test", "o'brien", true},
		{"..", "alice", false},
		{".", "alice", false},
		{"", "alice", false},
		{".example.test", "alice", false},
		{"example.test.", "alice", false},
		{"example..test", "alice", false},
		{"example.test/..", "alice", false},
		{"../etc", "alice", false},
		{"exa\x00mple.test", "alice", false},
		{"exa mple.test", "alice", false},
		{"bücher.example", "alice", false}, // must be an A-label
		{"example.test", "", false},
		{"example.test", "..", false},
		{"example.test", ".", false},
		{"example.test", ".alice", false},
		{"example.test", "a/b", false},
		{"example.test", "../../x", false},
		{"example.test", `a\b`, false},
		{"example.test", "a\x00b", false},
		{"example.test", "a\nb", false},
		{"example.test", "bad\xff", false},
	} {
		_, err := Create(root, tc.domain, tc.local, Owner{})
		if tc.ok != (err == nil) {
			t.Errorf("Create(%q, %q) error = %v, want ok=%v", tc.domain, tc.local, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("Create(%q, %q) error %v does not match ErrInvalidName", tc.domain, tc.local, err)
		}
	}
	if _, err := MailboxPath("", "example.test", "a"); err == nil {
		t.Error("empty root accepted")
	}
}

func TestDirName(t *testing.T) {
	for _, tc := range []struct {
		name string
		sep  rune
		dir  string // "!" = invalid
	}{
		{"INBOX", '/', ""},
		{"inbox", '.', ""},
		{"Sent", '/', ".Sent"},
		{"Lists/Go", '/', ".Lists.Go"},
		{"Lists.Go", '.', ".Lists.Go"},
		{"inbox/Sub", '/', ".INBOX.Sub"},
		{"Entwürfe", '/', ".Entw&APw-rfe"},
		{"台北/日本語", '/', ".&U,BTFw-.&ZeVnLIqe-"},
		{"R&D", '.', ".R&-D"},
		{"a b*%", '/', ".a b*%"},
		{"", '/', "!"},
		{"a.b", '/', "!"}, // '.' is the separator on disk
		{"a/b", '.', "!"}, // '/' never goes to disk
		{"/a", '/', "!"},
		{"a/", '/', "!"},
		{"a//b", '/', "!"},
		{"..", '.', "!"},
		{".", '.', "!"},
		{"../x", '/', "!"},
		{"a\x00", '/', "!"},
		{"a\tb", '/', "!"},
		{"a\u0085b", '/', "!"},
		{"bad\xff", '/', "!"},
		{"x", '\\', "!"},
	} {
		dir, err := DirName(tc.name, tc.sep)
		if tc.dir == "!" {
			if err == nil {
				t.Errorf("DirName(%q, %q) = %q, want an error", tc.name, tc.sep, dir)
			}
			continue
		}
		if err != nil || dir != tc.dir {
			t.Errorf("DirName(%q, %q) = %q, %v; want %q", tc.name, tc.sep, dir, err, tc.dir)
			continue
		}
		back, err := FolderName(dir, tc.sep)
		if err != nil {
			t.Errorf("FolderName(%q): %v", dir, err)
		}
		if again, _ := DirName(back, tc.sep); again != dir {
			t.Errorf("DirName(FolderName(%q)) = %q", dir, again)
		}
	}
	for _, dir := range []string{".INBOX", ".inbox.x", "..", ".", ".a..b", ".a.", "Sent", ".&AGE-", ".&U,BTFw", ".a\tb"} {
		if name, err := FolderName(dir, '/'); err == nil {
			t.Errorf("FolderName(%q) = %q, want an error", dir, name)
		}
	}
}

func TestFolderOps(t *testing.T) {
	path, err := Create(t.TempDir(), "example.test", "carol", Owner{})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := NewGenerator("test")
	m := Mailbox{Path: path, Names: g}

	if err := m.CreateFolder("Sent"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateFolder(Sent) = %v, want ErrExist", err)
	}
	if err := m.CreateFolder("INBOX"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateFolder(INBOX) = %v, want ErrExist", err)
	}
	if err := m.CreateFolder("../evil"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("CreateFolder(../evil) = %v, want ErrInvalidName", err)
	}
	for _, n := range []string{"A", "A/B", "A/B/C", "AB", "Entwürfe"} {
		if err := m.CreateFolder(n); err != nil {
			t.Fatalf("CreateFolder(%q): %v", n, err)
		}
	}
	wantMode(t, filepath.Join(path, ".A.B"), 0o700)
	wantMode(t, filepath.Join(path, ".A.B", "maildirfolder"), 0o600)
	if !exists(filepath.Join(path, ".Entw&APw-rfe", "cur")) {
		t.Error("non-ASCII folder not stored in modified UTF-7")
	}
	// A message in A/B must travel with the rename.
	fAB, err := m.Folder("A/B")
	if err != nil {
		t.Fatal(err)
	}
	d, err := fAB.Deliver(stringsReader("x"), DeliverOptions{})
	if err != nil {
		t.Fatal(err)
	}

	if err := m.RenameFolder("A", "A/B/D"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("rename below itself: %v", err)
	}
	if err := m.RenameFolder("A", "AB"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("rename onto existing: %v", err)
	}
	if err := m.RenameFolder("Nope", "Z"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rename missing: %v", err)
	}
	if err := m.RenameFolder("A", "C"); err != nil {
		t.Fatal(err)
	}
	got, _ := m.ListFolders()
	want := []string{"INBOX", "AB", "Archive", "C", "C/B", "C/B/C", "Drafts", "Entwürfe", "Junk", "Sent", "Trash"}
	if !slices.Equal(got, want) {
		t.Errorf("after rename: %q, want %q", got, want)
	}
	if !exists(filepath.Join(path, ".C.B", "new", d.Name)) {
		t.Error("message did not move with its folder")
	}

	// Separator '.': same tree, other spelling.
	dot := Mailbox{Path: path, Sep: '.'}
	got, _ = dot.ListFolders()
	if !slices.Contains(got, "C.B.C") {
		t.Errorf("'.' listing %q lacks C.B.C", got)
	}

	// Delete keeps children and leaves nothing behind.
	if err := m.DeleteFolder("C"); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteFolder("C"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second delete: %v", err)
	}
	if err := m.DeleteFolder("INBOX"); err == nil {
		t.Error("INBOX deleted")
	}
	got, _ = m.ListFolders()
	if slices.Contains(got, "C") || !slices.Contains(got, "C/B") {
		t.Errorf("after delete: %q", got)
	}
	if left, _ := os.ReadDir(filepath.Join(path, "tmp")); len(left) != 0 {
		t.Errorf("delete left %d entries in tmp/", len(left))
	}
	// A folder without its parent can still be renamed by its parent name.
	if err := m.RenameFolder("C", "E"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Folder("E/B"); err != nil {
		t.Error(err)
	}
	if _, err := m.Folder("C/B"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Folder(C/B) after rename: %v", err)
	}
}

func TestRenameInbox(t *testing.T) {
	path, err := Create(t.TempDir(), "example.test", "dave", Owner{})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := NewGenerator("test")
	m := Mailbox{Path: path, Names: g}
	inbox, _ := m.Folder("INBOX")
	d1, _ := inbox.Deliver(stringsReader("one"), DeliverOptions{})
	d2, _ := inbox.Deliver(stringsReader("two"), DeliverOptions{Cur: true, Flags: "S"})
	if err := m.CreateFolder("INBOX/Child"); err != nil {
		t.Fatal(err)
	}
	if err := m.RenameFolder("INBOX", "Old"); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(path, ".Old", "new", d1.Name)) || !exists(filepath.Join(path, ".Old", "cur", d2.Name)) {
		t.Error("messages did not move out of INBOX")
	}
	if exists(d1.Path) || exists(d2.Path) {
		t.Error("INBOX not empty")
	}
	if _, err := m.Folder("INBOX/Child"); err != nil {
		t.Errorf("INBOX child was moved: %v", err)
	}
}

func TestMoveTo(t *testing.T) {
	base := t.TempDir()
	path, err := Create(filepath.Join(base, "vmail"), "example.test", "eve", Owner{})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(base, "retention", "2024", "example.test", "eve")
	if err := MoveTo(path, filepath.Join(path, "inside"), Owner{}); err == nil {
		t.Error("moved into itself")
	}
	if err := MoveTo(path, dst, Owner{}); err != nil {
		t.Fatal(err)
	}
	if exists(path) || !exists(filepath.Join(dst, ".Sent", "cur")) {
		t.Error("mailbox not moved")
	}
	wantMode(t, filepath.Join(base, "retention", "2024"), 0o700)
	if err := MoveTo(filepath.Join(base, "missing"), filepath.Join(base, "x"), Owner{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("move missing: %v", err)
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := MoveTo(path, dst, Owner{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("move onto existing: %v", err)
	}
}

// FuzzFolderName checks that directory names and IMAP names map onto each
// other one to one, and that no accepted name can leave the mailbox.
func FuzzFolderName(f *testing.F) {
	for _, s := range []string{".Sent", ".Lists.Go", ".&U,BTFw-.&ZeVnLIqe-", ".INBOX.x", "..", ".a&-b", ".inbox.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dir string) {
		for _, sep := range []rune{'/', '.'} {
			name, err := FolderName(dir, sep)
			if err != nil {
				continue
			}
			back, err := DirName(name, sep)
			if err != nil || back != dir {
				t.Fatalf("DirName(FolderName(%q, %q) = %q) = %q, %v", dir, sep, name, back, err)
			}
			if dir != "" && (dir == ".." || strings.ContainsAny(dir, "/\x00") || dir[0] != '.') {
				t.Fatalf("FolderName accepted unsafe directory %q", dir)
			}
		}
	})
}
