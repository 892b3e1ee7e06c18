package maildir

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		name        string
		key         string
		size, vsize int64
		flags       Flags
	}{
		{"1700000000.M123456P42Q7.mx1,S=1234,W=1260", "1700000000.M123456P42Q7.mx1,S=1234,W=1260", 1234, 1260, ""},
		{"1700000000.M123456P42Q7.mx1,S=1234,W=1260:2,", "1700000000.M123456P42Q7.mx1,S=1234,W=1260", 1234, 1260, ""},
		{"1700000000.M1P2.mx1,S=5:2,SR", "1700000000.M1P2.mx1,S=5", 5, -1, "RS"},         // canonical order
		{"1700000000.M1P2.mx1,S=5:2,TSRPFD", "1700000000.M1P2.mx1,S=5", 5, -1, "DFPRST"}, // all standard flags
		{"1700000000.M1P2.mx1,S=5:2,Sba", "1700000000.M1P2.mx1,S=5", 5, -1, "Sab"},       // keyword letters kept
		{"1700000000.M1P2.mx1,S=5:2,SS", "1700000000.M1P2.mx1,S=5", 5, -1, "S"},
		{"1700000000.M1P2.mx1,S=5:2,S1!", "1700000000.M1P2.mx1,S=5", 5, -1, "S"},          // junk in flags ignored
		{"1234567890.12345.host.example", "1234567890.12345.host.example", -1, -1, ""},    // qmail
		{"1234567890.12345_1.host:2,S", "1234567890.12345_1.host", -1, -1, "S"},           // mutt
		{`1700000000.M1P2.a\057b\072c,S=9`, `1700000000.M1P2.a\057b\072c,S=9`, 9, -1, ""}, // escaped host
		{"k,S=x,W=12", "k,S=x,W=12", -1, 12, ""},
		{"k,W=3,S=4", "k,W=3,S=4", 4, 3, ""},
		{"k,S=99999999999999999999", "k,S=99999999999999999999", -1, -1, ""},
		{"k:2,S:2,T", "", 0, 0, ""}, // ':' left in the key: invalid
	} {
		info, err := ParseName(tc.name)
		if tc.key == "" {
			if err == nil {
				t.Errorf("ParseName(%q) = %+v, want an error", tc.name, info)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseName(%q): %v", tc.name, err)
			continue
		}
		if info.Key != tc.key || info.Size != tc.size || info.VSize != tc.vsize || info.Flags != tc.flags || info.Name != tc.name {
			t.Errorf("ParseName(%q) = %+v, want key %q size %d vsize %d flags %q", tc.name, info, tc.key, tc.size, tc.vsize, tc.flags)
		}
	}
}

func TestParseNameRejects(t *testing.T) {
	for _, name := range []string{
		"", ".hidden", "..", "../../etc/passwd", "a/b", "a\x00b", "a\nb", "a\x7fb",
		"bad\xffutf8", ":2,S", "key:1,foo", "key:S", strings.Repeat("x", 256),
	} {
		if info, err := ParseName(name); err == nil {
			t.Errorf("ParseName(%q) = %+v, want an error", name, info)
		} else if !errors.Is(err, ErrInvalidName) {
			t.Errorf("ParseName(%q) error %v does not match ErrInvalidName", name, err)
		}
	}
}

func TestFlags(t *testing.T) {
	if got := FormatName("k,S=1", "TSxaD"); got != "k,S=1:2,DSTax" {
		t.Errorf("FormatName = %q", got)
	}
	if got := FormatName("k", ""); got != "k:2," {
		t.Errorf("FormatName no flags = %q", got)
	}
	f, err := ParseFlags("SRc")
	if err != nil || f != "RSc" {
		t.Fatalf("ParseFlags = %q, %v", f, err)
	}
	if _, err := ParseFlags("S:"); err == nil {
		t.Error("ParseFlags accepted ':'")
	}
	if !f.Has(FlagSeen) || f.Has(FlagTrashed) {
		t.Errorf("Has on %q wrong", f)
	}
	if got := f.With("TS"); got != "RSTc" {
		t.Errorf("With = %q", got)
	}
	if got := f.Without("Sc"); got != "R" {
		t.Errorf("Without = %q", got)
	}
	if got := Flags("DFab").Keywords(); got != "ab" {
		t.Errorf("Keywords = %q", got)
	}
	for _, c := range []byte("DFRST") {
		if FlagLetter(IMAPFlag(c)) != c {
			t.Errorf("IMAP flag mapping of %c does not round-trip", c)
		}
	}
	if FlagLetter(`\seen`) != 'S' || FlagLetter(`\Recent`) != 0 || IMAPFlag('P') != "" {
		t.Error("IMAP flag mapping")
	}
}

func TestGenerator(t *testing.T) {
	g, err := NewGenerator("mx/1:a,b")
	if err != nil {
		t.Fatal(err)
	}
	g.now = func() time.Time { return time.Unix(1700000000, 123456789) }
	g.pid = 4242
	if got, want := g.Next(), `1700000000.M123456P4242Q1.mx\0571\072a\054b`; got != want {
		t.Errorf("Next = %q, want %q", got, want)
	}
	if _, err := ParseName(g.Next() + ",S=1"); err != nil {
		t.Errorf("generated name does not parse: %v", err)
	}

	// Unique under concurrency even with a frozen clock.
	const workers, each = 16, 500
	seen := sync.Map{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, dup := seen.LoadOrStore(g.Next(), true); dup {
					t.Error("duplicate name")
				}
			}
		}()
	}
	wg.Wait()

	h, err := NewGenerator("")
	if err != nil || !strings.Contains(h.Next(), ".M") {
		t.Errorf("NewGenerator with host name of the machine: %v", err)
	}
}

// FuzzParseName checks that ParseName never panics, that what it accepts is
// safe, and that FormatName of the parse round-trips.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"1700000000.M123456P42Q7.mx1,S=1234,W=1260:2,FSa",
		"1234567890.12345.host.example",
		`1700000000.M1P2.a\057b\072c,S=9:2,`,
		"k:2,S:2,T", ".x", "a/b", "k,S=,W=12:2,ZZz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		info, err := ParseName(name)
		if err != nil {
			return
		}
		if info.Key == "" || strings.ContainsAny(info.Key, ":/\x00") || info.Key[0] == '.' {
			t.Fatalf("ParseName(%q) accepted unsafe key %q", name, info.Key)
		}
		out := FormatName(info.Key, info.Flags)
		if len(out) > maxNameLen {
			return // the file system could not hold it anyway
		}
		again, err := ParseName(out)
		if err != nil {
			t.Fatalf("ParseName(FormatName(%q, %q)) = %v", info.Key, info.Flags, err)
		}
		if again.Key != info.Key || again.Flags != info.Flags || again.Size != info.Size || again.VSize != info.VSize {
			t.Fatalf("round trip of %q: %+v became %+v", name, info, again)
		}
	})
}

// BenchmarkParseName parses the name of a message file as every FETCH of
// a size or a body does.
func BenchmarkParseName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseName("1764761234.M123456P4242Q7.mail.example.test,S=5123,W=5230:2,FS"); err != nil {
			b.Fatal(err)
		}
	}
}
