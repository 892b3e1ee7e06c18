package imapwire

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func decoder(s string) *Decoder {
	return NewDecoder(bufio.NewReader(strings.NewReader(s)))
}

func TestReadCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name string
		uid  bool
		args any
	}{
		{"a NOOP\r\n", "NOOP", false, nil},
		{"a1 login bob \"se\\\"cret\"\r\n", "LOGIN", false, Login{"bob", `se"cret`}},
		{"a LOGIN {3+}\r\nbob {2}\r\npw\r\n", "LOGIN", false, Login{"bob", "pw"}},
		{"a AUTHENTICATE PLAIN AGJvYgBwdw==\r\n", "AUTHENTICATE", false, Authenticate{"PLAIN", "AGJvYgBwdw==", true}},
		{"a SELECT INBOX (CONDSTORE)\r\n", "SELECT", false, &SelectArgs{Mailbox: "INBOX", CondStore: true}},
		{"a EXAMINE x (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n", "EXAMINE", false,
			&SelectArgs{Mailbox: "x", QResync: &QResync{UIDValidity: 67890007, ModSeq: 20050715194045000,
				KnownUIDs: NumSet{Ranges: []NumRange{{41, 41}, {43, 211}, {214, 541}}}}}},
		{"a UID FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100> BINARY[3]) (CHANGEDSINCE 5)\r\n", "FETCH", true,
			&Fetch{Set: NumSet{Ranges: []NumRange{{1, 0}}}, Items: FetchItems{Flags: true, ChangedSince: 5, Sections: []Section{
				{Part: []int{1, 2}, Specifier: "HEADER.FIELDS", Fields: []string{"From", "To"}, Partial: &Partial{0, 100}, Peek: true},
				{Part: []int{3}, Binary: true}}}}},
		{"a FETCH $ FAST\r\n", "FETCH", false, &Fetch{Set: NumSet{SearchRes: true}, Items: FetchItems{Flags: true, InternalDate: true, RFC822Size: true}}},
		{"a STORE 2,4 (UNCHANGEDSINCE 7) +FLAGS.SILENT (\\Seen $Forwarded)\r\n", "STORE", false,
			&StoreArgs{Set: NumSet{Ranges: []NumRange{{2, 2}, {4, 4}}}, Op: '+', Silent: true, Flags: []string{`\Seen`, "$Forwarded"},
				UnchangedSince: 7, HasUnchanged: true}},
		{"a SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (FROM \"a b\" NOT SEEN) UID 1:3 SINCE 1-Feb-1994\r\n", "SEARCH", false,
			&SearchArgs{HasReturn: true, Return: []string{"MIN", "COUNT"}, Charset: "UTF-8", Keys: []SearchKey{
				{Name: "OR", Sub: []SearchKey{{Name: "AND", Sub: []SearchKey{{Name: "FROM", Value: "a b"}, {Name: "NOT", Sub: []SearchKey{{Name: "SEEN"}}}}},
					{Name: "UID", Set: NumSet{Ranges: []NumRange{{1, 3}}}}}},
				{Name: "SINCE", Date: time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)}}}},
		{"a LIST (SUBSCRIBED) \"\" (INBOX \"%\") RETURN (CHILDREN STATUS (MESSAGES))\r\n", "LIST", false,
			&ListArgs{Select: []string{"SUBSCRIBED"}, Patterns: []string{"INBOX", "%"}, Return: []string{"CHILDREN", "STATUS"}, Status: []string{"MESSAGES"}}},
		{"a LIST \"\" &*\r\n", "LIST", false, &ListArgs{Patterns: []string{"&*"}}},
		{"a CREATE Archive (USE (\\Archive))\r\n", "CREATE", false, Create{"Archive", []string{`\Archive`}}},
		{"a ID (\"name\" \"x\" \"version\" NIL)\r\n", "ID", false, ID{[]string{"name", "x", "version", ""}}},
		{"a ID NIL\r\n", "ID", false, ID{}},
		{"a UID EXPUNGE 4:5\r\n", "EXPUNGE", true, NumSet{Ranges: []NumRange{{4, 5}}}},
		{"a ENABLE IMAP4rev2 UTF8=ACCEPT\r\n", "ENABLE", false, []string{"IMAP4REV2", "UTF8=ACCEPT"}},
	} {
		c, err := decoder(tc.in).ReadCommand()
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if c.Name != tc.name || c.UID != tc.uid || !reflect.DeepEqual(c.Args, tc.args) {
			t.Errorf("%q: got %s uid=%v %#v", tc.in, c.Name, c.UID, c.Args)
		}
	}
}

func TestReadCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		in      string
		literal bool // a *LiteralError
	}{
		{"a FROB\r\n", false},
		{"a LOGIN \"open\r\n", false},
		{"a LOGIN {999999999}\r\n", true},
		{"a LOGIN {5000}\r\n", true},
		{"a FETCH 0 FLAGS\r\n", false},
		{"a FETCH 1 BODY[0]\r\n", false},
		{"a FETCH 1 BINARY[HEADER]\r\n", false},
		{"a SEARCH (\r\n", false},
		{"a SEARCH " + strings.Repeat("NOT ", 100) + "ALL\r\n", false},
		{"a UID NOOP\r\n", false},
	} {
		_, err := decoder(tc.in).ReadCommand()
		var se *SyntaxError
		var le *LiteralError
		if tc.literal && !errors.As(err, &le) || !tc.literal && !errors.As(err, &se) {
			t.Errorf("%q: %v", tc.in, err)
		}
	}
}

// TestQuotedOpenAtEOL: a quoted string left open at the end of the line
// is an error at once, and the next line is the next command.
func TestQuotedOpenAtEOL(t *testing.T) {
	d := decoder("a LOGIN \"bob\r\nb NOOP\r\n")
	if _, err := d.ReadCommand(); err == nil {
		t.Fatal("no error")
	}
	if err := d.DiscardLine(); err != nil {
		t.Fatal(err)
	}
	c, err := d.ReadCommand()
	if err != nil || c.Tag != "b" || c.Name != "NOOP" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestLiteralMinus(t *testing.T) {
	d := decoder("a LOGIN {5000+}\r\n")
	d.LiteralMinus = true
	d.MaxLiteral = 1 << 20
	_, err := d.ReadCommand()
	var le *LiteralError
	if !errors.As(err, &le) || !le.NonSync {
		t.Fatalf("%v", err)
	}
}

func TestAppend(t *testing.T) {
	d := decoder("a APPEND INBOX (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {3}\r\nabc ~{2+}\r\n\x00b\r\n")
	conts := 0
	d.Continue = func() error { conts++; return nil }
	c, err := d.ReadCommand()
	if err != nil || c.Args.(Append).Mailbox != "INBOX" {
		t.Fatal(c, err)
	}
	var got []string
	for first := true; ; first = false {
		m, nonSync, err := d.NextAppend(first)
		if err != nil {
			t.Fatal(err)
		}
		if m == nil {
			break
		}
		r, _ := d.LiteralBody(m.Size, nonSync)
		b, _ := io.ReadAll(r)
		got = append(got, string(b))
	}
	if !reflect.DeepEqual(got, []string{"abc", "\x00b"}) || conts != 1 {
		t.Fatalf("%q, %d continuations", got, conts)
	}
}

func TestMailboxUTF7(t *testing.T) {
	for _, tc := range []struct{ utf8, utf7 string }{
		{"INBOX", "INBOX"}, {"Réunions", "R&AOk-unions"}, {"a&b", "a&-b"}, {"日本語", "&ZeVnLIqe-"}, {"😀", "&2D3eAA-"},
	} {
		if got := EncodeMailbox(tc.utf8); got != tc.utf7 {
			t.Errorf("Encode(%q) = %q", tc.utf8, got)
		}
		if got, err := DecodeMailbox(tc.utf7); err != nil || got != tc.utf8 {
			t.Errorf("Decode(%q) = %q, %v", tc.utf7, got, err)
		}
	}
	for _, bad := range []string{"&", "a&b", "x&y", "&AGE-", "&AOk-&AOk-", "&Jjo", "é", "&AO-"} {
		if _, err := DecodeMailbox(bad); !errors.Is(err, ErrBadUTF7) {
			t.Errorf("Decode(%q): %v", bad, err)
		}
	}
}
