package imapd_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
)

const multipartMsg = "From: a@example.test\r\n" +
	"Subject: parts\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=XX\r\n" +
	"\r\n" +
	"preamble\r\n" +
	"--XX\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"first part\r\n" +
	"--XX\r\n" +
	"Content-Type: application/octet-stream\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"Content-Disposition: attachment; filename=\"x.bin\"\r\n" +
	"\r\n" +
	"aGVsbG8gd29ybGQ=\r\n" +
	"--XX--\r\n"

func TestFetchPartsBinaryAndSeen(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", multipartMsg)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	part1 := &imap.FetchItemBodySection{Part: []int{1}}
	mime2 := &imap.FetchItemBodySection{Part: []int{2}, Specifier: imap.PartSpecifierMIME, Peek: true}
	bin2 := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{part1, mime2},
		BinarySection: []*imap.FetchItemBinarySection{bin2},
		Flags:         true,
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatal(err, msgs)
	}
	m := msgs[0]
	mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || mp.Subtype != "mixed" || len(mp.Children) != 2 {
		t.Fatalf("BODYSTRUCTURE %#v", m.BodyStructure)
	}
	att := mp.Children[1].(*imap.BodyStructureSinglePart)
	if att.Type != "application" || !strings.EqualFold(att.Encoding, "BASE64") || att.Size != uint32(len("aGVsbG8gd29ybGQ=")) ||
		att.Extended == nil || att.Extended.Disposition == nil || att.Extended.Disposition.Value != "attachment" {
		t.Errorf("attachment structure %#v", att)
	}
	if got := string(m.FindBodySection(part1)); got != "first part" {
		t.Errorf("BODY[1] = %q", got)
	}
	if got := string(m.FindBodySection(mime2)); !strings.Contains(got, "Content-Transfer-Encoding: base64") {
		t.Errorf("BODY[2.MIME] = %q", got)
	}
	if got := string(m.FindBinarySection(bin2)); got != "hello world" {
		t.Errorf("BINARY[2] = %q", got)
	}
	// BODY[1] (not PEEK) set \Seen, and the FETCH reported it.
	if !slices.Contains(m.Flags, imap.FlagSeen) {
		t.Errorf("flags after BODY[1]: %v", m.Flags)
	}
	if files := e.files(t, "bob@example.test", ""); len(files) != 1 || !strings.HasSuffix(files[0], ":2,S") {
		t.Errorf("file after \\Seen: %v", files)
	}
}

func TestSearchExtensionsExamineAuthenticate(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	// AUTHENTICATE PLAIN through the go-imap client.
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	for i := 0; i < 5; i++ {
		appendMsg(t, c, "INBOX", testMsg)
	}

	r := dialRaw(t, e.nodes[0].addr)
	r.send("a1 AUTHENTICATE PLAIN\r\n")
	r.expect("+")
	r.send(base64.StdEncoding.EncodeToString([]byte("\x00bob@example.test\x00secret")) + "\r\n")
	r.expect("a1 OK")
	r.send("a2 SELECT INBOX\r\n")
	if l := r.expect("* "); !strings.Contains(l, "EXISTS") && !strings.Contains(l, "FLAGS") {
		t.Logf("first select line %q", l)
	}
	r.expect("a2 OK")
	r.send("a3 STORE 2,4 +FLAGS.SILENT (\\Flagged)\r\n")
	r.expect("a3 OK")
	r.send("a4 SEARCH RETURN (MIN MAX COUNT SAVE) FLAGGED\r\n")
	if l := r.expect("* ESEARCH"); !strings.Contains(l, "MIN 2 MAX 4 COUNT 2") {
		t.Errorf("ESEARCH: %q", l)
	}
	r.expect("a4 OK")
	r.send("a5 UID FETCH $ (FLAGS)\r\n") // SEARCHRES
	l1, l2 := r.expect("* "), r.expect("* ")
	if !strings.Contains(l1, "UID 2") || !strings.Contains(l2, "UID 4") {
		t.Errorf("FETCH $: %q %q", l1, l2)
	}
	r.expect("a5 OK")
	r.send("a6 UID STORE 4 +FLAGS (\\Deleted)\r\n")
	if l := r.expect("* 4 FETCH"); !strings.Contains(l, "UID 4") || !strings.Contains(l, `\Deleted`) {
		t.Errorf("UID STORE answer: %q", l)
	}
	r.expect("a6 OK")
	r.send("a7 UID EXPUNGE 1:3\r\n") // 4 is \Deleted but outside the set
	r.expect("a7 OK")
	r.send("a8 UID EXPUNGE 4\r\n")
	r.expect("* 4 EXPUNGE")
	r.expect("a8 OK")
	r.send("a9 UID COPY 1:2 Archive\r\n")
	if l := r.expect("a9 "); !strings.Contains(l, "[COPYUID ") || !strings.Contains(l, " 1:2 1:2]") {
		t.Errorf("COPYUID: %q", l)
	}
	r.send("b1 EXAMINE INBOX\r\n")
	r.expect("b1 OK [READ-ONLY]")
	r.send("b2 STORE 1 +FLAGS (\\Seen)\r\n")
	r.expect("b2 NO")
	r.send("b3 FETCH 1 BODY[]\r\n") // EXAMINE: no implicit \Seen
	r.expect("b3 OK")
	r.send("b4 FETCH 1 FLAGS\r\n")
	if l := r.expect("* 1 FETCH"); strings.Contains(l, `\Seen`) {
		t.Errorf("BODY[] in EXAMINE set \\Seen: %q", l)
	}

	// AUTHENTICATE LOGIN with the go-sasl client side.
	c2 := e.dialNoLogin(t, e.nodes[0])
	if err := c2.Authenticate(sasl.NewLoginClient("bob@example.test", "secret")); err != nil {
		t.Fatalf("AUTHENTICATE LOGIN: %v", err)
	}
}
