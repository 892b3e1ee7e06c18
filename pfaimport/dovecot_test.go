package pfaimport

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailhost/maildir"
)

func TestUIDLFormat(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   string
	}{
		{DefaultUIDLFormat, "000000016b111885"}, // as Dovecot 2.3's POP3 UIDL showed it
		{"%v.%u", "1796282501.1"},               // mailhost's own form
		{"%u", "1"},
		{"%f", "1796282501.M297871P17862.vm,S=20,W=23"},
		{"UID%u-%v", "UID1-1796282501"},
		{"%%%4u", "%   1"},
	} {
		f, err := parseUIDLFormat(tc.format)
		if err != nil {
			t.Errorf("%q: %v", tc.format, err)
			continue
		}
		if got := f.format(1, 1796282501, "1796282501.M297871P17862.vm,S=20,W=23"); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.format, got, tc.want)
		}
	}
	for _, bad := range []string{"", "%m", "%g", "%08X", "%{uid}"} {
		if _, err := parseUIDLFormat(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseUIDList(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       uidList
	}{
		{"version 3", "3 V1796282501 N4 Gf941d5138518116bc645000083ecc375\n1 :a.M1P1.vm,S=20,W=23\n" +
			"3 W23 P0000abcd :b.M2P1.vm,S=20:2,S\n",
			uidList{1796282501, 4, map[string]uidEntry{"a.M1P1.vm,S=20,W=23": {1, ""}, "b.M2P1.vm,S=20": {3, "0000abcd"}}}},
		{"version 1", "1 1100000000 3\n2 c.M1P1.host\n", uidList{1100000000, 3, map[string]uidEntry{"c.M1P1.host": {2, ""}}}},
		{"garbage lines skipped", "3 V7 N9\nx :bad\n0 :zero\n5 no-colon\n8 :ok\n", uidList{7, 9, map[string]uidEntry{"ok": {8, ""}}}},
	} {
		got, err := parseUIDList(strings.NewReader(tc.text), tc.name)
		if err != nil || got.UIDValidity != tc.want.UIDValidity || got.NextUID != tc.want.NextUID ||
			len(got.Entries) != len(tc.want.Entries) {
			t.Errorf("%s: %+v %v", tc.name, got, err)
			continue
		}
		for k, e := range tc.want.Entries {
			if got.Entries[k] != e {
				t.Errorf("%s: %s: %+v, want %+v", tc.name, k, got.Entries[k], e)
			}
		}
	}
	for _, bad := range []string{"", "2 V1 N2\n", "3 N4\n", "3 V1\n"} {
		if _, err := parseUIDList(strings.NewReader(bad), "bad"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseUIDList: any file Dovecot (or a disk error) left is read or
// refused, never a panic.
func FuzzParseUIDList(f *testing.F) {
	f.Add("3 V1796282501 N4 G00\n1 :a,S=1\n2 W3 P0a :b:2,S\n")
	f.Add("1 1100000000 3\n2 c.M1P1.host\n")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseUIDList(strings.NewReader(s), "fuzz")
		if err == nil && l.UIDValidity == 0 {
			t.Fatal("accepted without UIDVALIDITY")
		}
	})
}

func TestKeywordsAndFlags(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dovecot-keywords"), []byte("0 $Label1\n1 Important\nbad line\n30 TooFar\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kw, err := readKeywords(dir)
	if err != nil {
		t.Fatal(err)
	}
	flags, kws := messageFlags(maildir.Flags("DFRSTabc"), kw)
	if !slices.Equal(flags, []string{`\Draft`, `\Flagged`, `\Answered`, `\Seen`, `\Deleted`}) ||
		!slices.Equal(kws, []string{"$Label1", "Important"}) {
		t.Errorf("flags %v, keywords %v", flags, kws)
	}
}

func TestSubscriptions(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"V\t2\n\nWork\nWork\tSub\ninbox\n", "Work,Work/Sub,INBOX"}, // Dovecot 2.x
		{"Work\nWork.Sub\n", "Work,Work/Sub"},                       // Dovecot 1.x, separator '.'
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "subscriptions"), []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readSubscriptions(dir, '.')
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("%q: %v %v", tc.file, got, err)
		}
	}
}

func TestGotoList(t *testing.T) {
	got := gotoList("alice@example.org", "Alice@example.org, alice#example.org@autoreply.example.org,\n bob@x.test,bob@x.test")
	if !slices.Equal(got, []string{"alice@example.org", "bob@x.test"}) {
		t.Errorf("gotoList: %v", got)
	}
}
