package imapd_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailhost/testsupport"
)

// TestMbsyncTwoWay is the two-way sync acceptance: mbsync keeps a
// Maildir and the server's account in agreement while both sides change
// flags, delete messages, add messages and create folders between syncs.
func TestMbsyncTwoWay(t *testing.T) {
	mbsync := testsupport.RequireTool(t, "mbsync", "isync")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	for i := 1; i <= 8; i++ {
		var flags []imap.Flag
		switch i {
		case 1:
			flags = []imap.Flag{imap.FlagSeen}
		case 4:
			flags = []imap.Flag{imap.FlagFlagged}
		}
		appendMsg(t, c, "INBOX", syncMsg(fmt.Sprintf("m%d", i)), flags...)
	}
	appendMsg(t, c, "Archive", syncMsg("a1"), imap.FlagSeen)

	dir := t.TempDir()
	local := filepath.Join(dir, "mail") + "/"
	if err := os.MkdirAll(local, 0o700); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "mbsyncrc")
	cfg := fmt.Sprintf(`IMAPAccount test
Host 127.0.0.1
Port %s
User bob@example.test
Pass secret
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account test

MaildirStore local
Path %s
Inbox %sINBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :local:
Patterns *
Create Both
Remove None
Expunge Both
Sync All
SyncState *
CopyArrivalDate yes
`, port(e.nodes[0].addr), local, local)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	sync := func(round string) {
		t.Helper()
		out := run(t, mbsync, "-c", cfgFile, "-a")
		t.Logf("mbsync %s:\n%s", round, out)
	}

	sync("first")
	want := map[string]map[string]string{
		"INBOX":   {"m1": "S", "m2": "", "m3": "", "m4": "F", "m5": "", "m6": "", "m7": "", "m8": ""},
		"Archive": {"a1": "S"},
		"Drafts":  {}, "Junk": {}, "Sent": {}, "Trash": {},
	}
	checkSides(t, e, c, local, want, "after the first sync")

	// The client: a flag added, a file removed, a message marked trashed
	// (T), a flag on a message the server also changes, a new message and
	// a new folder.
	inbox := localMessages(t, filepath.Join(local, "INBOX"))
	setLocalFlags(t, inbox["m1"], "FS")
	if err := os.Remove(inbox["m2"]); err != nil {
		t.Fatal(err)
	}
	setLocalFlags(t, inbox["m3"], "T")
	setLocalFlags(t, inbox["m5"], "S")
	writeLocal(t, filepath.Join(local, "INBOX"), "c1")
	// The file's time is the message's arrival date (CopyArrivalDate).
	c1Date := time.Date(2010, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(localMessages(t, filepath.Join(local, "INBOX"))["c1"], c1Date, c1Date); err != nil {
		t.Fatal(err)
	}
	writeLocal(t, filepath.Join(local, "ClientNew"), "c2")

	// The server, through another client on a second node (sharing the
	// database and the Maildirs): flags replaced, a message expunged in
	// each of two folders, a new message and a new folder.
	second := e.startNode(t)
	o := e.dial(t, second, "bob@example.test", "secret", nil)
	if _, err := o.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	storeFlags(t, o, "m4", imap.StoreFlagsSet, imap.FlagAnswered)
	storeFlags(t, o, "m5", imap.StoreFlagsAdd, imap.FlagFlagged)
	storeFlags(t, o, "m6", imap.StoreFlagsAdd, imap.FlagDeleted)
	if _, err := o.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	// Deleted but not expunged: mbsync's Expunge Both expunges it.
	storeFlags(t, o, "m7", imap.StoreFlagsAdd, imap.FlagDeleted)
	storeFlags(t, o, "m8", imap.StoreFlagsAdd, imap.FlagDraft, imap.FlagSeen)
	s1Date := time.Date(2009, 1, 2, 3, 4, 5, 0, time.UTC)
	appendDated(t, o, "INBOX", syncMsg("s1"), s1Date)
	if _, err := o.Select("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	storeFlags(t, o, "a1", imap.StoreFlagsAdd, imap.FlagDeleted)
	if _, err := o.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	if err := o.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := o.Create("ServerNew", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, o, "ServerNew", syncMsg("s2"), imap.FlagSeen)
	// A non-ASCII name: go-imap sends it in modified UTF-7, and so
	// does mbsync, whose Maildir calls the folder R&AOk-unions.
	if err := o.Create("Réunions", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, o, "Réunions", syncMsg("s3"))

	sync("second")
	want["INBOX"] = map[string]string{"m1": "FS", "m4": "R", "m5": "FS", "m8": "DS", "c1": "", "s1": ""}
	want["Archive"] = map[string]string{}
	want["ClientNew"] = map[string]string{"c2": ""}
	want["ServerNew"] = map[string]string{"s2": "S"}
	want["Réunions"] = map[string]string{"s3": ""}
	checkSides(t, e, c, local, want, "after the second sync")
	// The arrival dates went across: INTERNALDATE from the file's time and back.
	if got := internalDate(t, c, "INBOX", "c1"); !got.Equal(c1Date) {
		t.Errorf("c1's INTERNALDATE on the server is %v, want the file's time %v", got, c1Date)
	}
	if fi, err := os.Stat(localMessages(t, filepath.Join(local, "INBOX"))["s1"]); err != nil || !fi.ModTime().Equal(s1Date) {
		t.Errorf("s1's file time in the Maildir is %v (%v), want its INTERNALDATE %v", fi.ModTime(), err, s1Date)
	}
	// The server's expunged messages left its Maildir too.
	for folder, dir := range map[string]string{"INBOX": "", "Archive": ".Archive", "ServerNew": ".ServerNew", "ClientNew": ".ClientNew"} {
		if files := e.files(t, "bob@example.test", dir); len(files) != len(want[folder]) {
			t.Errorf("the server's Maildir %s holds %v, want %d messages", folder, files, len(want[folder]))
		}
	}

	// A third sync, with the second node, changes nothing: the nodes give
	// the same UIDs and flags.
	if err := os.WriteFile(cfgFile, []byte(strings.Replace(cfg, "Port "+port(e.nodes[0].addr), "Port "+port(second.addr), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	sync("third")
	checkSides(t, e, c, local, want, "after the third sync")
}

// mbsyncNames maps the Maildir names mbsync 1.4 gives folders to their
// IMAP names: it keeps the modified UTF-7 of a non-ASCII name as it is.
var mbsyncNames = map[string]string{"R&AOk-unions": "Réunions"}

// syncMsg is a message whose Message-ID is <id@example.test>.
func syncMsg(id string) string {
	return "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: sync " + id +
		"\r\nMessage-ID: <" + id + "@example.test>\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\nbody of " + id + "\r\n"
}

// checkSides fails t unless the server's folders and the Maildir's hold
// the messages of want (folder, id, Maildir flag letters), no more.
func checkSides(t *testing.T, e *env, c *imapclient.Client, local string, want map[string]map[string]string, when string) {
	t.Helper()
	server := serverMessages(t, c)
	near := map[string]map[string]string{}
	entries, err := os.ReadDir(local)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if !en.IsDir() {
			continue
		}
		msgs := map[string]string{}
		for id, p := range localMessages(t, filepath.Join(local, en.Name())) {
			msgs[id] = maildirFlags(p)
		}
		name := en.Name()
		if n, ok := mbsyncNames[name]; ok {
			name = n
		}
		near[name] = msgs
	}
	for _, side := range []struct {
		name string
		got  map[string]map[string]string
	}{{"server", server}, {"Maildir", near}} {
		if g, w := slices.Sorted(maps.Keys(side.got)), slices.Sorted(maps.Keys(want)); !slices.Equal(g, w) {
			t.Errorf("%s: %s folders %v, want %v", when, side.name, g, w)
		}
		for folder, msgs := range want {
			if !maps.Equal(side.got[folder], msgs) {
				t.Errorf("%s: %s %s holds %v, want %v", when, side.name, folder, side.got[folder], msgs)
			}
		}
	}
}

// serverMessages reads every folder's messages as id → Maildir flag letters.
func serverMessages(t *testing.T, c *imapclient.Client) map[string]map[string]string {
	t.Helper()
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, b := range boxes {
		if slices.Contains(b.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(b.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		msgs := map[string]string{}
		sel, err := c.Select(b.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("EXAMINE %s: %v", b.Mailbox, err)
		}
		if sel.NumMessages > 0 {
			fetched, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true, Flags: true}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range fetched {
				letters := ""
				for _, f := range m.Flags {
					letters += map[imap.Flag]string{imap.FlagDraft: "D", imap.FlagFlagged: "F", imap.FlagAnswered: "R",
						imap.FlagSeen: "S", imap.FlagDeleted: "T"}[f]
				}
				msgs[strings.TrimSuffix(m.Envelope.MessageID, "@example.test")] = sortLetters(letters)
			}
		}
		out[b.Mailbox] = msgs
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	return out
}

// localMessages maps the Message-ID (its local part) of each message of a
// Maildir folder to its file.
func localMessages(t *testing.T, folder string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(folder, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			p := filepath.Join(folder, sub, en.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			_, rest, ok := strings.Cut(string(b), "Message-ID: <")
			id, _, _ := strings.Cut(rest, "@")
			if !ok {
				t.Fatalf("%s has no Message-ID", p)
			}
			if _, dup := out[id]; dup {
				t.Errorf("%s: two files of %s", folder, id)
			}
			out[id] = p
		}
	}
	return out
}

func maildirFlags(p string) string {
	_, info, ok := strings.Cut(filepath.Base(p), ":2,")
	if !ok {
		return ""
	}
	return sortLetters(info)
}

func sortLetters(s string) string {
	b := []byte(s)
	slices.Sort(b)
	return string(b)
}

// setLocalFlags renames a Maildir message to cur/ with flags, as a mail
// reader does.
func setLocalFlags(t *testing.T, p, flags string) {
	t.Helper()
	base, _, _ := strings.Cut(filepath.Base(p), ":2,")
	np := filepath.Join(filepath.Dir(filepath.Dir(p)), "cur", base+":2,"+sortLetters(flags))
	if err := os.Rename(p, np); err != nil {
		t.Fatal(err)
	}
}

// writeLocal delivers a message into a Maildir folder's new/, making the
// folder if needed.
func writeLocal(t *testing.T, folder, id string) {
	t.Helper()
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(folder, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(folder, "new", "1700000000.local_"+id+".client"), []byte(syncMsg(id)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// storeFlags changes the flags of the selected folder's message id.
func storeFlags(t *testing.T, c *imapclient.Client, id string, op imap.StoreFlagsOp, flags ...imap.Flag) {
	t.Helper()
	data, err := c.Search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "<" + id + "@"}}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	seqs := data.AllSeqNums()
	if len(seqs) != 1 {
		t.Fatalf("SEARCH HEADER Message-ID %s: %v", id, seqs)
	}
	if err := c.Store(imap.SeqSetNum(seqs...), &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close(); err != nil {
		t.Fatal(err)
	}
}

// appendDated appends msg with an INTERNALDATE.
func appendDated(t *testing.T, c *imapclient.Client, folder, msg string, date time.Time) {
	t.Helper()
	cmd := c.Append(folder, int64(len(msg)), &imap.AppendOptions{Time: date})
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND to %s: %v", folder, err)
	}
}

// internalDate reads the INTERNALDATE of a folder's message id.
func internalDate(t *testing.T, c *imapclient.Client, folder, id string) time.Time {
	t.Helper()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Unselect().Wait() }()
	data, err := c.Search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "<" + id + "@"}}}, nil).Wait()
	if err != nil || len(data.AllSeqNums()) != 1 {
		t.Fatalf("SEARCH HEADER Message-ID %s: %v %v", id, data, err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(data.AllSeqNums()...), &imap.FetchOptions{InternalDate: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH INTERNALDATE of %s: %v", id, err)
	}
	return msgs[0].InternalDate
}
