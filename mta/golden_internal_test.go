package mta

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"mailhost/mailheader"
	"mailhost/store"
)

var updateGolden = flag.Bool("update-internal", false, "rewrite the DSN and vacation golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

var fixed = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func TestGoldenDSN(t *testing.T) {
	orig := []byte("Received: from a\r\nSubject: big\r\nMessage-ID: <m@remote.example>\r\n\r\nbody\r\n")
	for _, tc := range []struct {
		name string
		hdrs bool
	}{{"dsn-full.golden", false}, {"dsn-headers.golden", true}} {
		msg := BuildDSN(DSN{ReportingMTA: "mx.test", Sender: "bob@remote.example", QueueID: "0123456789ABCDEF",
			Arrival: fixed, Now: fixed, Boundary: "BOUNDARY", MessageID: "<dsn@mx.test>", HeadersOnly: tc.hdrs,
			Recipients: []DSNRecipient{{Address: "small@example.test", Status: "5.2.2", Diagnostic: "smtp; 552 5.2.2 Mailbox full"}},
			Original:   orig})
		golden(t, tc.name, msg)
	}
}

func TestGoldenVacationReply(t *testing.T) {
	h := mailheader.Parse([]byte("Message-ID: <q1@remote.example>\r\nReferences: <q0@remote.example>\r\nSubject: hi\r\n\r\n"))
	got := vacationReply("mx.test", "alice@example.test", "bob@remote.example",
		store.Vacation{Subject: "Absent — back Monday", Body: "I am away.\nBack on Monday."}, &h, fixed)
	got = regexp.MustCompile(`<\d{14}\.[0-9A-F]{12}@`).ReplaceAll(got, []byte("<MSGID@"))
	golden(t, "vacation-reply.golden", got)
}
