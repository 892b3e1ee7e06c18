package imapd_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestLoginListSelectFetchStoreExpunge(t *testing.T) {
	e := newEnv(t)
	id := e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)

	// LIST with special-use attributes, INBOX first.
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	attrs := map[string][]imap.MailboxAttr{}
	for _, b := range boxes {
		names = append(names, b.Mailbox)
		attrs[b.Mailbox] = b.Attrs
	}
	if want := []string{"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"}; !slices.Equal(names, want) {
		t.Fatalf("LIST: %v, want %v", names, want)
	}
	if !slices.Contains(attrs["Sent"], imap.MailboxAttrSent) || !slices.Contains(attrs["Trash"], imap.MailboxAttrTrash) {
		t.Errorf("special-use attributes missing: %v", attrs)
	}

	a1 := appendMsg(t, c, "INBOX", testMsg)
	a2 := appendMsg(t, c, "INBOX", strings.ReplaceAll(testMsg, "\r\n", "\n"), imap.FlagFlagged, "$Important")
	if a1.UID != 1 || a2.UID != 2 || a1.UIDValidity == 0 {
		t.Fatalf("APPENDUID: %+v %+v", a1, a2)
	}
	if b, n := usage(t, e, id); n != 2 || b != int64(len(testMsg)+len(strings.ReplaceAll(testMsg, "\r\n", "\n"))) {
		t.Errorf("usage after 2 appends: %d bytes, %d messages", b, n)
	}

	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 2 || sel.UIDNext != 3 || sel.UIDValidity != a1.UIDValidity {
		t.Fatalf("SELECT: %+v", sel)
	}
	if !slices.Contains(sel.PermanentFlags, "$Important") || !slices.Contains(sel.PermanentFlags, imap.FlagWildcard) {
		t.Errorf("PERMANENTFLAGS %v lack the keyword or \\*", sel.PermanentFlags)
	}

	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{{Peek: true}, {Specifier: imap.PartSpecifierHeader, Peek: true}, {Specifier: imap.PartSpecifierText, Peek: true, Partial: &imap.SectionPartial{Offset: 3, Size: 3}}},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("FETCH returned %d messages", len(msgs))
	}
	for _, m := range msgs {
		body := m.FindBodySection(&imap.FetchItemBodySection{Peek: true})
		if string(body) != testMsg {
			t.Errorf("uid %d BODY[] = %q, want the message with CRLF line ends", m.UID, body)
		}
		if m.RFC822Size != int64(len(testMsg)) {
			t.Errorf("uid %d RFC822.SIZE %d, want %d", m.UID, m.RFC822Size, len(testMsg))
		}
		if m.Envelope == nil || m.Envelope.Subject != "Hello there" || len(m.Envelope.From) != 1 || m.Envelope.From[0].Host != "example.test" {
			t.Errorf("uid %d ENVELOPE %+v", m.UID, m.Envelope)
		}
		bs, ok := m.BodyStructure.(*imap.BodyStructureSinglePart)
		if !ok || bs.Type != "text" || bs.Subtype != "plain" || bs.Size != uint32(len("Hi Bob,\r\nthe quick brown fox.\r\n")) || bs.Text.NumLines != 2 {
			t.Errorf("uid %d BODYSTRUCTURE %#v", m.UID, m.BodyStructure)
		}
		hdr := m.FindBodySection(&imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true})
		if !strings.HasPrefix(testMsg, string(hdr)) || !strings.HasSuffix(string(hdr), "\r\n\r\n") {
			t.Errorf("uid %d BODY[HEADER] = %q", m.UID, hdr)
		}
		part := m.FindBodySection(&imap.FetchItemBodySection{Specifier: imap.PartSpecifierText, Peek: true, Partial: &imap.SectionPartial{Offset: 3, Size: 3}})
		if string(part) != "Bob" {
			t.Errorf("uid %d BODY[TEXT]<3.3> = %q", m.UID, part)
		}
	}
	if !slices.Contains(msgs[1].Flags, imap.FlagFlagged) || !slices.Contains(msgs[1].Flags, "$Important") {
		t.Errorf("flags of uid 2: %v", msgs[1].Flags)
	}

	// STORE: the flag is in the index and in the file name.
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen, imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	files := e.files(t, "bob@example.test", "")
	if !slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, ":2,ST") }) {
		t.Errorf("no file with flags ST: %v", files)
	}

	// SEARCH by header, body, flags.
	for _, tc := range []struct {
		name string
		c    imap.SearchCriteria
		want []uint32
	}{
		{"subject", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "hello"}}}, []uint32{1, 2}},
		{"body", imap.SearchCriteria{Body: []string{"BROWN FOX"}}, []uint32{1, 2}},
		{"body miss", imap.SearchCriteria{Body: []string{"wolf"}}, nil},
		{"deleted", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDeleted}}, []uint32{1}},
		{"unseen", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, []uint32{2}},
		{"keyword", imap.SearchCriteria{Flag: []imap.Flag{"$important"}}, []uint32{2}},
		{"larger", imap.SearchCriteria{Larger: 10}, []uint32{1, 2}},
		{"or", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Flag: []imap.Flag{imap.FlagDeleted}}, {Text: []string{"nothing"}}}}}, []uint32{1}},
		{"sent since", imap.SearchCriteria{SentSince: time.Date(2006, 1, 2, 0, 0, 0, 0, time.UTC)}, []uint32{1, 2}},
		{"sent before", imap.SearchCriteria{SentBefore: time.Date(2006, 1, 2, 0, 0, 0, 0, time.UTC)}, nil},
	} {
		data, err := c.UIDSearch(&tc.c, nil).Wait()
		if err != nil {
			t.Fatalf("SEARCH %s: %v", tc.name, err)
		}
		got := []uint32{}
		for _, u := range data.AllUIDs() {
			got = append(got, uint32(u))
		}
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("SEARCH %s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// EXPUNGE removes row and file and credits the quota.
	exp, err := c.Expunge().Collect()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(exp, []uint32{1}) {
		t.Errorf("EXPUNGE: %v", exp)
	}
	if files := e.files(t, "bob@example.test", ""); len(files) != 1 {
		t.Errorf("files after expunge: %v", files)
	}
	if _, n := usage(t, e, id); n != 1 {
		t.Errorf("used_messages after expunge: %d", n)
	}
}

func TestWrongPasswordAndPlaintextRefusal(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c, err := imapclient.DialInsecure(e.nodes[0].addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Login("bob@example.test", "wrong").Wait()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAuthenticationFailed {
		t.Fatalf("wrong password: %v, want NO [AUTHENTICATIONFAILED]", err)
	}
}
