package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailhost/testdb"
)

func TestReadMessage(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		ignoreDots bool
		limit      int64
		want       string // "" with tooBig
		tooBig     bool
	}{
		{"at the limit", "Subject: x\n\n12345\n", true, 18, "Subject: x\n\n12345\n", false},
		{"one byte over", "Subject: x\n\n123456\n", true, 18, "", true},
		{"far over", strings.Repeat("x", 1<<16), true, 1000, "", true},
		{"dot ends it within the limit", "Subject: x\n\nhi\n.\n" + strings.Repeat("not read\n", 100), false, 20, "Subject: x\n\nhi\n", false},
		{"dot too late", "Subject: x\n\n" + strings.Repeat("y", 30) + "\n.\n", false, 20, "", true},
		{"dot mode at the limit", "Subject: x\n\n12345\n.\nmore\n", false, 18, "Subject: x\n\n12345\n", false},
		{"dot mode at the limit, CRLF", "Subject: x\r\n\r\n123\r\n.\r\nmore\r\n", false, 19, "Subject: x\r\n\r\n123\r\n", false},
		{"a dot line cut by the limit is no end", "Subject: x\n\n12345\n.x\n", false, 18, "", true},
		{"a dot line just over the limit", "Subject: x\n\n123456\n.\n", false, 18, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readMessage(strings.NewReader(tc.in), tc.ignoreDots, tc.limit)
			var ee *exitError
			switch {
			case tc.tooBig:
				if !errors.Is(err, errTooBig) || !errors.As(err, &ee) || ee.status != exUnavailable {
					t.Fatalf("err = %v, want errTooBig with status %d", err, exUnavailable)
				}
			case err != nil || string(got) != tc.want:
				t.Fatalf("readMessage = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestExtractRecipients(t *testing.T) {
	msg := "To: a@x.example, Bee <b@x.example>\n" +
		"Cc: =?x-unknown?q?J=F6rg?= <j@x.example>\n" +
		"Bcc : hidden@x.example,\n  hidden2@x.example\n" +
		"Subject: report\n" +
		"to: team: c@x.example;\n" +
		"BCC: hidden3@x.example\n" +
		"\nBcc: a body line stays\nbody\n"
	out, rcpts, err := extractRecipients([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a@x.example", "b@x.example", "c@x.example", "j@x.example", "hidden@x.example", "hidden2@x.example", "hidden3@x.example"}
	if !slices.Equal(rcpts, want) {
		t.Errorf("recipients = %q, want %q", rcpts, want)
	}
	wantOut := "To: a@x.example, Bee <b@x.example>\r\nCc: =?x-unknown?q?J=F6rg?= <j@x.example>\r\nSubject: report\r\n" +
		"to: team: c@x.example;\r\n\r\nBcc: a body line stays\nbody\n"
	if string(out) != wantOut {
		t.Errorf("message = %q, want %q", out, wantOut)
	}

	// Without Bcc the message is left as it is.
	plain := "To: a@x.example\nSubject: x\n\nbody\n"
	if out, _, err := extractRecipients([]byte(plain)); err != nil || string(out) != plain {
		t.Errorf("no Bcc: %q, %v", out, err)
	}
	for _, bad := range []string{"To: a@x.example\nnot a header line\n\nbody\n", "To: broken <\n\n", "Cc: nobody\n\n"} {
		if _, _, err := extractRecipients([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "-t: ") {
			t.Errorf("extractRecipients(%q) error = %v, want a -t error", bad, err)
		}
	}
}

// TestSendmailSizeLimit: sendmail reads at most smtp.message_size_limit
// bytes and refuses a larger message as Postfix's does: "message file too
// big" and EX_UNAVAILABLE (69), nothing delivered.
func TestSendmailSizeLimit(t *testing.T) {
	data := dataDir(t)
	env := baseEnv("DATABASE_URL="+testdb.New(t), "MAILHOST_DATA_DIR="+data, "MAILHOST_HOSTNAME=host.test",
		"MAILHOST_SMTP_MESSAGE_SIZE_LIMIT=1000")
	for _, args := range [][]string{{"domain", "add", "example.test"}, {"mailbox", "add", "alice@example.test", "--password-stdin"}} {
		if code, out, errOut := mailhost(t, env, "secret-pw\n", args...); code != 0 {
			t.Fatalf("mailhost %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	head := "Subject: big\n\n"
	over := head + strings.Repeat("x", 1001-len(head))
	code, _, errOut := mailhost(t, env, over, "sendmail", "-i", "alice@example.test")
	if code != 69 || !strings.Contains(errOut, "message file too big") || !strings.Contains(errOut, "smtp.message_size_limit (1000 bytes)") {
		t.Fatalf("1001 bytes: exit %d, %q; want 69 and message file too big", code, errOut)
	}
	inbox := filepath.Join(data, "vmail", "example.test", "alice", "new")
	if files, _ := filepath.Glob(filepath.Join(inbox, "*")); len(files) != 0 {
		t.Fatalf("refused message delivered: %v", files)
	}
	if code, out, errOut := mailhost(t, env, over[:1000], "sendmail", "-i", "alice@example.test"); code != 0 {
		t.Fatalf("1000 bytes: exit %d\n%s%s", code, out, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(inbox, "*"))
	if len(files) != 1 {
		t.Fatalf("alice has %d messages, want the one at the limit", len(files))
	}
	if got, _ := os.ReadFile(files[0]); !strings.Contains(string(got), "Subject: big\r\n") {
		t.Fatalf("delivered:\n%s", got)
	}
}
