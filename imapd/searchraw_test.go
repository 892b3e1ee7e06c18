package imapd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailhost/maildir"
)

// TEXT and BODY find what decoding reveals although the file's bytes do
// not hold it (base64, quoted-printable, a charset, encoded words, a
// character whose lower case is ASCII), and refuse what only the bytes
// hold across a line break; rawExcludes skips the parse only where that
// cannot change the answer.
func TestSearchTextRawPrefilter(t *testing.T) {
	const plain = "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	for _, tc := range []struct {
		name, msg, needle string
		text, body        bool // TEXT, BODY
		excluded          bool // answered from the bytes
	}{
		{"plain hit", "Subject: x\r\n" + plain + "going to Zanzibar\r\n", "zanzibar", true, true, false},
		{"plain miss", "Subject: x\r\n" + plain + "going to Paris\r\n", "zanzibar", false, false, true},
		{"header hit", "Subject: Zanzibar\r\n" + plain + "nothing\r\n", "zanzibar", true, false, false},
		{"no content type", "Subject: x\r\n\r\ngoing to Paris\r\n", "zanzibar", false, false, true},
		{"base64", "Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"Z29pbmcgdG8gWmFuemliYXI=\r\n", "zanzibar", true, true, false},
		{"quoted-printable soft break", "Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			"going to Zanzi=\r\nbar\r\n", "zanzibar", true, true, false},
		{"latin1", "Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nZ\xfcrich\r\n", "zürich", true, true, false},
		{"encoded word", "Subject: =?utf-8?q?Zanzibar?=\r\n" + plain + "x\r\n", "zanzibar", true, false, false},
		{"kelvin sign", "Subject: x\r\n" + plain + "\u212aelvin\r\n", "kelvin", true, true, false},
		{"colon in the needle", "Subject : x\r\n" + plain + "Paris\r\n", "subject:", true, false, false},
		{"needle across a line", "Subject: x\r\n" + plain + "to\r\nZanzibar\r\n", "to zanzibar", false, false, false},
		{"charset cut", "Subject: x\r\nContent-Type: text/plain; charset=utf-8x\r\n\r\nParis\r\n", "zanzibar", false, false, false},
		{"attachment skipped", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + plain + "Paris\r\n" +
			"--b\r\nContent-Type: application/octet-stream\r\n\r\nZanzibar\r\n--b--\r\n", "zanzibar", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "cur"), 0o700); err != nil {
				t.Fatal(err)
			}
			// Unix line ends on disk, as Maildir files may have them.
			if err := os.WriteFile(filepath.Join(dir, "cur", "1.M1P1.x:2,"), []byte(strings.ReplaceAll(tc.msg, "\r\n", "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
			newMT := func() *matcher {
				return &matcher{mf: &msgFile{dir: maildir.Folder{Path: dir}, name: "1.M1P1.x:2,"}}
			}
			for _, c := range []struct {
				withHeader, want bool
			}{{true, tc.text}, {false, tc.body}} {
				mt := newMT()
				if got := mt.textContains(tc.needle, c.withHeader); got != c.want {
					t.Errorf("textContains(%q, header %v) = %v, want %v", tc.needle, c.withHeader, got, c.want)
				}
				mt.mf.close()
			}
			mt := newMT()
			mt.text = &textScan{}
			if got := mt.rawExcludes(strings.ToLower(tc.needle)); got != tc.excluded {
				t.Errorf("rawExcludes = %v, want %v", got, tc.excluded)
			}
			mt.mf.close()
		})
	}
}

// asciiLowerInPlace lower-cases ASCII letters as bytes.ToLower does and
// leaves every other byte as it is, at every length and alignment.
func TestASCIILowerInPlace(t *testing.T) {
	var all []byte
	for c := 0; c < 256; c++ {
		all = append(all, byte(c))
	}
	all = append(all, "The Quick BROWN fox @[`{ Zz Aa"...)
	for start := 0; start < 9; start++ {
		for end := start; end <= len(all); end += 7 {
			in := all[start:end]
			got := append([]byte(nil), in...)
			wide := asciiLowerInPlace(got)
			wantWide := false
			for i, c := range in {
				want := c
				if 'A' <= c && c <= 'Z' {
					want = c + 32
				}
				wantWide = wantWide || c >= 0x80
				if got[i] != want {
					t.Fatalf("[%d:%d] byte %#x -> %#x, want %#x", start, end, c, got[i], want)
				}
			}
			if wide != wantWide {
				t.Fatalf("[%d:%d] wide %v, want %v", start, end, wide, wantWide)
			}
		}
	}
}

// FROM, TO, CC and BCC match the addresses as "Name <mailbox@host>" with
// quotes and comments gone and names decoded, from the cached envelope
// when the field occurs once and from every field when it occurs more.
func TestSearchAddressText(t *testing.T) {
	msg := "From: \"Doe, John\" (the boss) <john@example.test>\r\n" +
		"To: =?utf-8?q?J=C3=B6rg?= <jorg@example.test>, team: a@example.test, b@example.test;\r\n" +
		"Cc: first@example.test\r\nCc: Second Person <second@example.test>\r\n" +
		"Subject: x\r\n\r\nbody\r\n"
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "cur"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cur", "1.M1P1.x:2,"), []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	caches := newMsgCaches()
	for _, tc := range []struct {
		field, value string
		want         bool
	}{
		{"FROM", "doe, john <john@", true}, // not in the field's text: quotes
		{"FROM", "the boss", true},         // the field's text
		{"FROM", "boss <john", false},      // comments are not in the address
		{"TO", "jörg <jorg@example.test>", true},
		{"TO", "b@example.test", true},
		{"TO", "team <", false},
		{"CC", "second person <second@", true}, // the second Cc field
		{"CC", "first@example.test", true},
		{"BCC", "john", false},
	} {
		for pass := 0; pass < 2; pass++ { // the envelope parsed, then cached
			mt := &matcher{mf: &msgFile{dir: maildir.Folder{Path: dir}, name: "1.M1P1.x:2,", caches: caches,
				ck: hdrKey{folder: 1, uid: 1, key: "1.M1P1.x"}}}
			if got := mt.addressContains(tc.field, tc.value); got != tc.want {
				t.Errorf("pass %d: %s %q = %v, want %v", pass, tc.field, tc.value, got, tc.want)
			}
			mt.mf.close()
		}
	}
}

// A needle longer than half the read buffer still ends the scan of a
// larger message (its kept tail once filled the buffer, and the next
// read of nothing ran forever), found or not.
func TestScanLongNeedle(t *testing.T) {
	needle := strings.Repeat("n", 40<<10)
	for _, tc := range []struct {
		name, body string
		want       bool
	}{
		{"absent", strings.Repeat("x", 100<<10), false},
		{"across reads", strings.Repeat("x", 20<<10) + needle + strings.Repeat("x", 50<<10), true},
	} {
		var ts textScan
		if got := ts.streamContains(strings.NewReader(tc.body), needle); got != tc.want {
			t.Errorf("%s: streamContains %v, want %v", tc.name, got, tc.want)
		}
		if got := ts.rawMayContain(strings.NewReader(tc.body), needle); got != tc.want {
			t.Errorf("%s: rawMayContain %v, want %v", tc.name, got, tc.want)
		}
	}
}
