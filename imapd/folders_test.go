package imapd_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func listNames(_ *testing.T, _ any, data []*imap.ListData) []string {
	var out []string
	for _, d := range data {
		out = append(out, d.Mailbox)
	}
	return out
}

func TestFolders(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	box := e.maildirPath("bob@example.test")

	// CREATE with special-use, nested, and a name outside ASCII.
	if err := c.Create("Lists/Go", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Réunions", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Everything", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrAll}}).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".Lists.Go", ".R&AOk-unions", ".Everything"} {
		if _, err := os.Stat(filepath.Join(box, d, "cur")); err != nil {
			t.Errorf("CREATE made no Maildir %s: %v", d, err)
		}
	}
	err := c.Create("Sent", nil).Wait()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAlreadyExists {
		t.Errorf("CREATE Sent again: %v", err)
	}

	// LIST: CHILDREN, \Noselect parent, special-use selection, LIST-STATUS.
	all, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string][]imap.MailboxAttr{}
	for _, d := range all {
		attrs[d.Mailbox] = d.Attrs
	}
	if !slices.Contains(attrs["Lists"], imap.MailboxAttrNoSelect) || !slices.Contains(attrs["Lists"], imap.MailboxAttrHasChildren) {
		t.Errorf("Lists: %v", attrs["Lists"])
	}
	if !slices.Contains(attrs["Lists/Go"], imap.MailboxAttrHasNoChildren) || !slices.Contains(attrs["Everything"], imap.MailboxAttrAll) {
		t.Errorf("attrs: %v", attrs)
	}
	if _, ok := attrs["Réunions"]; !ok {
		t.Errorf("LIST lacks Réunions: %v", attrs)
	}
	top, _ := c.List("", "%", nil).Collect()
	if slices.Contains(listNames(t, nil, top), "Lists/Go") {
		t.Errorf("LIST %% shows a second level")
	}
	su, err := c.List("", "*", &imap.ListOptions{SelectSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, nil, su); !slices.Equal(got, []string{"Archive", "Drafts", "Everything", "Junk", "Sent", "Trash"}) {
		t.Errorf("LIST (SPECIAL-USE): %v", got)
	}
	appendMsg(t, c, "INBOX", testMsg)
	st, err := c.List("", "INBOX", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, Size: true, UIDNext: true}}).Collect()
	if err != nil || len(st) != 1 || st[0].Status == nil || *st[0].Status.NumMessages != 1 || *st[0].Status.Size != int64(len(testMsg)) {
		t.Fatalf("LIST RETURN (STATUS): %v %+v", err, st)
	}

	// STATUS with SIZE, UNSEEN, DELETED.
	sd, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, NumUnseen: true, NumDeleted: true, Size: true, UIDNext: true, UIDValidity: true}).Wait()
	if err != nil || *sd.NumMessages != 1 || *sd.NumUnseen != 1 || *sd.NumDeleted != 0 || sd.UIDNext != 2 || sd.UIDValidity == 0 {
		t.Errorf("STATUS: %v %+v", err, sd)
	}

	// SUBSCRIBE / UNSUBSCRIBE / LSUB.
	if err := c.Unsubscribe("Junk").Wait(); err != nil {
		t.Fatal(err)
	}
	sub, _ := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if slices.Contains(listNames(t, nil, sub), "Junk") || !slices.Contains(listNames(t, nil, sub), "Sent") {
		t.Errorf("LIST (SUBSCRIBED): %v", listNames(t, nil, sub))
	}
	if err := c.Subscribe("Junk").Wait(); err != nil {
		t.Fatal(err)
	}

	// RENAME with children; RENAME INBOX moves the messages.
	if err := c.Rename("Lists", "Groups", nil).Wait(); err == nil {
		t.Log("RENAME of a \\Noselect parent worked") // allowed: its children move
	}
	if err := c.Rename("Lists/Go", "Go", nil).Wait(); err != nil && !strings.Contains(err.Error(), "No such") {
		t.Fatal(err)
	}
	if err := c.Rename("INBOX", "Old", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	sOld, _ := c.Status("Old", &imap.StatusOptions{NumMessages: true}).Wait()
	sIn, _ := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if sOld == nil || *sOld.NumMessages != 1 || sIn == nil || *sIn.NumMessages != 0 {
		t.Errorf("after RENAME INBOX Old: Old %+v INBOX %+v", sOld, sIn)
	}
	if files := e.files(t, "bob@example.test", ".Old"); len(files) != 1 {
		t.Errorf(".Old holds %v", files)
	}
	if _, err := c.Select("Old", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 || string(msgs[0].FindBodySection(&imap.FetchItemBodySection{Peek: true})) != testMsg {
		t.Errorf("FETCH in the renamed INBOX: %v %v", err, msgs)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}

	// DELETE: row, directory and usage go; INBOX cannot.
	if err := c.Delete("Old").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(box, ".Old")); !os.IsNotExist(err) {
		t.Errorf(".Old still there: %v", err)
	}
	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Errorf("DELETE INBOX worked")
	}

	// NAMESPACE.
	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' {
		t.Errorf("NAMESPACE: %v %+v", err, ns)
	}
}
