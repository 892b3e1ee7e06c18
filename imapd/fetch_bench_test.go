package imapd

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailhost/imapwire"
	"mailhost/maildir"
)

// benchMessage is a message of the shape bench/imapstress sends: a
// sender with a display name, a Cc list, a subject, references.
const benchMessage = "From: Sender 7 <sender7@remote.test>\r\nTo: u1@bench.test\r\n" +
	"Cc: \"Colleague 7\" <colleague7@remote.test>, team@remote.test\r\n" +
	"Subject: message 57 quick brown fox jumps\r\nDate: Mon, 2 Jan 2026 15:04:05 +0000\r\n" +
	"Message-ID: <57.c0ffee@remote.test>\r\nIn-Reply-To: <56.0@remote.test>\r\n" +
	"References: <56.0@remote.test>\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n\r\n"

// benchBody is a text of about 4 KB, as most of bench/imapstress's.
var benchBody = strings.Repeat("The quick brown fox jumps over the lazy dog: meeting agenda, report.\r\n", 60)

// benchMsgFiles returns a function that opens the one message of a
// temporary folder as FETCH does, sharing caches.
func benchMsgFiles(b *testing.B) func() *msgFile {
	dir := b.TempDir()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	name := "1700000000.M1P1.bench,S=400:2,S"
	if err := os.WriteFile(filepath.Join(dir, "cur", name), []byte(benchMessage+benchBody), 0o600); err != nil {
		b.Fatal(err)
	}
	caches := newMsgCaches()
	return func() *msgFile {
		return &msgFile{dir: maildir.Folder{Path: dir}, name: name, caches: caches,
			ck: hdrKey{folder: 1, uid: 57, key: "1700000000.M1P1.bench"}}
	}
}

// BenchmarkFetchEnvelope is the ENVELOPE item of a FETCH of a message
// read before: from the cached header, parsed into an envelope each time
// (header), or from the cached envelope (envelope).
func BenchmarkFetchEnvelope(b *testing.B) {
	open := benchMsgFiles(b)
	var enc imapwire.Encoder
	enc.Reset(bufio.NewWriter(io.Discard))
	b.Run("header", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mf := open()
			h, err := mf.header()
			if err != nil {
				b.Fatal(err)
			}
			enc.Envelope(envelopeOf(h))
			mf.close()
		}
	})
	b.Run("envelope", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mf := open()
			env, err := mf.envelope()
			if err != nil {
				b.Fatal(err)
			}
			enc.Envelope(env)
			mf.close()
		}
	})
}

// BenchmarkSearchText is SEARCH TEXT on one message that does not hold
// the needle, the common case, with the header cached as SEARCH has it.
func BenchmarkSearchText(b *testing.B) {
	open := benchMsgFiles(b)
	text := &textScan{}
	b.ReportAllocs()
	for b.Loop() {
		mt := &matcher{mf: open(), text: text}
		if mt.textContains("zanzibar", true) {
			b.Fatal("found")
		}
		mt.mf.close()
	}
}

// BenchmarkSearchFrom is SEARCH FROM on one message whose sender does
// not match, the common case, with the header cached.
func BenchmarkSearchFrom(b *testing.B) {
	open := benchMsgFiles(b)
	text := &textScan{}
	b.ReportAllocs()
	for b.Loop() {
		mt := &matcher{mf: open(), text: text}
		if mt.addressContains("FROM", "sender9@") {
			b.Fatal("found")
		}
		mt.mf.close()
	}
}

// BenchmarkFetchHeaderFields is the BODY.PEEK[HEADER.FIELDS (...)] item
// of bench/imapstress's message list, from the cached header.
func BenchmarkFetchHeaderFields(b *testing.B) {
	open := benchMsgFiles(b)
	var enc imapwire.Encoder
	enc.Reset(bufio.NewWriter(io.Discard))
	sec := &imapwire.Section{Specifier: "HEADER.FIELDS", Peek: true, Fields: []string{"From", "To", "Cc", "Subject",
		"Date", "Message-ID", "References", "In-Reply-To", "Content-Type"}}
	b.ReportAllocs()
	for b.Loop() {
		mf := open()
		if err := writeSection(&enc, mf, sec, 0); err != nil {
			b.Fatal(err)
		}
		mf.close()
	}
}
