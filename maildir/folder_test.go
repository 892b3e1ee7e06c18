package maildir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

// testFolder returns the INBOX of a fresh mailbox.
func testFolder(t *testing.T) (Mailbox, Folder) {
	t.Helper()
	path, err := Create(t.TempDir(), "example.test", "user", Owner{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGenerator("mx.example.test")
	if err != nil {
		t.Fatal(err)
	}
	m := Mailbox{Path: path, Names: g}
	f, err := m.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return m, f
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	names, err := readNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestDeliver(t *testing.T) {
	_, f := testFolder(t)
	body := "Subject: hi\nFrom: a@b\r\n\nline\n"
	d, err := f.Deliver(stringsReader(body), DeliverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Size != int64(len(body)) || d.VSize != int64(len(body))+3 {
		t.Errorf("size %d vsize %d, want %d %d", d.Size, d.VSize, len(body), len(body)+3)
	}
	if d.Name != d.Key || filepath.Dir(d.Path) != filepath.Join(f.Path, "new") {
		t.Errorf("delivered as %q at %s", d.Name, d.Path)
	}
	if !strings.HasSuffix(d.Name, fmt.Sprintf(",S=%d,W=%d", d.Size, d.VSize)) {
		t.Errorf("name %q lacks sizes", d.Name)
	}
	info, err := ParseName(d.Name)
	if err != nil || info.Size != d.Size || info.VSize != d.VSize || info.Key != d.Key {
		t.Errorf("ParseName(%q) = %+v, %v", d.Name, info, err)
	}
	if got := dirNames(t, filepath.Join(f.Path, "new")); len(got) != 1 || got[0] != d.Name {
		t.Errorf("new/ = %q", got)
	}
	if got := dirNames(t, filepath.Join(f.Path, "tmp")); len(got) != 0 {
		t.Errorf("tmp/ not empty: %q", got)
	}
	wantMode(t, d.Path, 0o600)
	content, _ := os.ReadFile(d.Path)
	if string(content) != body {
		t.Errorf("content %q", content)
	}

	// Into cur/ with flags and an internal date (IMAP APPEND).
	date := time.Date(2020, 2, 29, 12, 0, 0, 0, time.UTC)
	d2, err := f.Deliver(stringsReader("x\r\n"), DeliverOptions{Cur: true, Flags: "SF", ModTime: date})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Name != d2.Key+":2,FS" || filepath.Dir(d2.Path) != filepath.Join(f.Path, "cur") || d2.VSize != 3 {
		t.Errorf("APPEND delivered %+v", d2)
	}
	if fi, _ := os.Stat(d2.Path); !fi.ModTime().Equal(date) {
		t.Errorf("mtime %v, want %v", fi.ModTime(), date)
	}
	if _, err := f.Deliver(stringsReader("x"), DeliverOptions{Flags: "S"}); err == nil {
		t.Error("flags accepted for new/")
	}
	if _, err := f.Deliver(stringsReader("x"), DeliverOptions{Cur: true, Flags: "S/"}); err == nil {
		t.Error("bad flags accepted")
	}
}

func TestDeliverFailureLeavesNothing(t *testing.T) {
	_, f := testFolder(t)
	r := io.MultiReader(stringsReader("partial message"), iotest.ErrReader(errors.New("connection lost")))
	if _, err := f.Deliver(r, DeliverOptions{}); err == nil {
		t.Fatal("Deliver succeeded on a failing reader")
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		if got := dirNames(t, filepath.Join(f.Path, sub)); len(got) != 0 {
			t.Errorf("%s/ holds %q after a failed delivery", sub, got)
		}
	}
	// No tmp/: fails cleanly.
	bad := Folder{Path: filepath.Join(f.Path, "nonexistent"), Names: f.Names}
	if _, err := bad.Deliver(stringsReader("x"), DeliverOptions{}); err == nil {
		t.Error("Deliver into a missing folder succeeded")
	}
	if _, err := (Folder{Path: f.Path}).Deliver(stringsReader("x"), DeliverOptions{}); err == nil {
		t.Error("Deliver without a Generator succeeded")
	}
}

func TestDeliverConcurrent(t *testing.T) {
	_, f := testFolder(t)
	f.Names.now = func() time.Time { return time.Unix(1700000000, 0) } // same microsecond for all
	const workers, each = 20, 25
	var wg sync.WaitGroup
	names := make(chan string, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				d, err := f.Deliver(stringsReader(fmt.Sprintf("msg %d-%d\n", w, i)), DeliverOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				names <- d.Name
			}
		}()
	}
	wg.Wait()
	close(names)
	seen := map[string]bool{}
	for n := range names {
		if seen[n] {
			t.Errorf("duplicate name %q", n)
		}
		seen[n] = true
	}
	if got := len(dirNames(t, filepath.Join(f.Path, "new"))); got != workers*each || len(seen) != workers*each {
		t.Errorf("%d files in new/, %d names; want %d", got, len(seen), workers*each)
	}
}

func TestDeliverNeverOverwrites(t *testing.T) {
	_, f := testFolder(t)
	// A second process with the same pid, host and clock: names clash.
	clock := func() time.Time { return time.Unix(1700000000, 0) }
	f.Names.now = clock
	other, _ := NewGenerator("mx.example.test")
	other.now = clock
	d1, err := f.Deliver(stringsReader("first"), DeliverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f2 := f
	f2.Names = other
	d2, err := f2.Deliver(stringsReader("other"), DeliverOptions{}) // same size, same Q1
	if err != nil {
		t.Fatal(err)
	}
	if d1.Name == d2.Name {
		t.Fatal("second delivery reused the name")
	}
	if b, _ := os.ReadFile(d1.Path); string(b) != "first" {
		t.Errorf("first message overwritten: %q", b)
	}
}

func TestFlagsRoundTrip(t *testing.T) {
	_, f := testFolder(t)
	d, err := f.Deliver(stringsReader("hello"), DeliverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	name, err := f.SetFlags(d.Name, "S") // moves new/ -> cur/
	if err != nil {
		t.Fatal(err)
	}
	if name != d.Key+":2,S" || !exists(filepath.Join(f.Path, "cur", name)) || exists(d.Path) {
		t.Fatalf("SetFlags -> %q", name)
	}
	name, err = f.SetFlags(name, Flags("S").With("RTab"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := ParseName(name)
	if info.Key != d.Key || info.Flags != "RSTab" {
		t.Errorf("after SetFlags: %+v", info)
	}
	if name2, err := f.SetFlags(name, info.Flags); err != nil || name2 != name {
		t.Errorf("no-op SetFlags = %q, %v", name2, err)
	}

	// Another process renamed it meanwhile: the stale name still works.
	if err := os.Rename(filepath.Join(f.Path, "cur", name), filepath.Join(f.Path, "cur", d.Key+":2,F")); err != nil {
		t.Fatal(err)
	}
	name, err = f.SetFlags(name, "D")
	if err != nil || name != d.Key+":2,D" {
		t.Fatalf("SetFlags with a stale name = %q, %v", name, err)
	}
	m, err := f.Find(d.Key)
	if err != nil || m.Name != name || m.Sub != "cur" || m.FileSize != 5 {
		t.Errorf("Find = %+v, %v", m, err)
	}
	r, err := f.Open(d.Key + ":2,XYZ") // stale flags
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "hello" {
		t.Errorf("Open read %q", b)
	}
	if err := f.Remove(d.Key); err != nil { // the new/ name, long gone
		t.Fatal(err)
	}
	if err := f.Remove(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Remove = %v", err)
	}
	if _, err := f.Find(d.Key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Find after Remove = %v", err)
	}
	if _, err := f.SetFlags("../../x", "S"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("SetFlags on a path = %v", err)
	}
	if _, err := f.Find(d.Key + ":2,S"); err == nil {
		t.Error("Find accepted a name with flags as a key")
	}
}

func TestLink(t *testing.T) {
	m, inbox := testFolder(t)
	date := time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)
	d, err := inbox.Deliver(stringsReader("copy me\n"), DeliverOptions{Cur: true, Flags: "S", ModTime: date})
	if err != nil {
		t.Fatal(err)
	}
	sent, _ := m.Folder("Sent")
	c, err := Link(inbox, d.Name, sent, "", "FS")
	if err != nil {
		t.Fatal(err)
	}
	if c.Key == d.Key || c.Size != d.Size || c.VSize != d.VSize || c.Name != c.Key+":2,FS" {
		t.Errorf("Link = %+v (source %+v)", c, d)
	}
	src, _ := os.Stat(d.Path)
	dst, _ := os.Stat(c.Path)
	if !os.SameFile(src, dst) || !dst.ModTime().Equal(date) {
		t.Error("not a hard link with the same internal date")
	}
	// The copy is independent of the original's flags.
	if _, err := inbox.SetFlags(d.Name, "T"); err != nil {
		t.Fatal(err)
	}
	if _, err := Link(inbox, d.Name, sent, "", ""); err != nil { // stale name, found by key
		t.Errorf("Link with a stale name: %v", err)
	}
	if err := inbox.Remove(d.Name); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(c.Path); string(b) != "copy me\n" {
		t.Errorf("copy lost its bytes: %q", b)
	}
	if _, err := Link(inbox, d.Name, sent, "", ""); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Link of a removed message = %v", err)
	}
}

func TestCopyFallback(t *testing.T) {
	m, inbox := testFolder(t)
	date := time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)
	src := filepath.Join(inbox.Path, "cur", "1234567890.12345.host:2,S")
	if err := os.WriteFile(src, []byte("no sizes in name\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(src, time.Time{}, date)
	trash, _ := m.Folder("Trash")
	d, err := copyInto(src, trash, "S", date, "")
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(d.Path); !fi.ModTime().Equal(date) || d.Size != 17 {
		t.Errorf("fallback copy %+v", d)
	}
	c, err := Link(inbox, "1234567890.12345.host:2,S", trash, "", "")
	if err != nil || c.Size != 17 || c.VSize != -1 || strings.Contains(c.Key, ",W=") {
		t.Errorf("Link of a name without sizes = %+v, %v", c, err)
	}
}

func TestScan(t *testing.T) {
	_, f := testFolder(t)
	d1, _ := f.Deliver(stringsReader("one"), DeliverOptions{})
	d2, _ := f.Deliver(stringsReader("two"), DeliverOptions{Cur: true, Flags: "S"})
	write := func(sub, name string) string {
		p := filepath.Join(f.Path, sub, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("tmp", "1.M1P1.inflight")                 // tmp/ is ignored
	write("cur", ".nfs000123")                      // dot-files are ignored
	write("new", ".DS_Store")                       //
	old := write("cur", "1000000000.4242.old:2,RS") // another program's name, older
	bad := []string{
		write("cur", "garbage:1,xyz"),
		write("new", "bad\xffname"),
		write("cur", "k:2,S:2,T"),
		write("new", d2.Key), // duplicate key: the cur/ file wins
	}
	sub := filepath.Join(f.Path, "cur", "a-directory")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	bad = append(bad, sub)
	if err := os.Symlink("/etc/passwd", filepath.Join(f.Path, "new", "1.M1P1.link")); err != nil {
		t.Fatal(err)
	}
	bad = append(bad, filepath.Join(f.Path, "new", "1.M1P1.link"))

	res, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range res.Messages {
		got = append(got, m.Path)
	}
	want := []string{old, d1.Path, d2.Path}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m := res.Messages[0]; m.Key != "1000000000.4242.old" || m.Flags != "RS" || m.Sub != "cur" || m.FileSize != 1 || m.Size != -1 {
		t.Errorf("foreign message %+v", m)
	}
	skipped := map[string]bool{}
	for _, s := range res.Skipped {
		skipped[s.Path] = true
		if s.Err == nil {
			t.Errorf("skipped %s without a reason", s.Path)
		}
	}
	for _, p := range bad {
		if !skipped[p] {
			t.Errorf("%s not reported as skipped", p)
		}
	}
	if len(res.Skipped) != len(bad) {
		t.Errorf("skipped %d, want %d: %+v", len(res.Skipped), len(bad), res.Skipped)
	}

	if _, err := (Folder{Path: filepath.Join(f.Path, "missing")}).Scan(); err == nil {
		t.Error("Scan of a missing folder succeeded")
	}
}
