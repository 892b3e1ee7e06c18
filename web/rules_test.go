package web

import "testing"

func TestLocalPath(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"/", true}, {"/domains", true}, {"/domains?q=a&cursor=b", true}, {"/mailboxes/alice@example.com", true},
		{"", false}, {"domains", false}, {"//evil.example", false}, {`/\evil.example`, false}, {"/\\/evil", false},
		{"https://evil.example/", false}, {"javascript:alert(1)", false}, {"/\t/evil.example", false},
		{"/a\nb", false}, {"/ok\\", false},
	} {
		if got := localPath(tc.in); got != tc.ok {
			t.Errorf("localPath(%q) = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
		nil_ bool
	}{
		{"", 0, true, true}, {"0", 0, true, false}, {"1024", 1024, true, false}, {"500M", 500 << 20, true, false},
		{"2g", 2 << 30, true, false}, {"1.5G", 3 << 29, true, false}, {"10 GiB", 10 << 30, true, false}, {"1T", 1 << 40, true, false},
		{"-1", 0, false, false}, {"lots", 0, false, false}, {"2X", 0, false, false}, {"99999999999T", 0, false, false},
	} {
		got, ok := parseSize(tc.in)
		if ok != tc.ok || (got == nil) != (tc.nil_ || !tc.ok) || (got != nil && *got != tc.want) {
			t.Errorf("parseSize(%q) = %v, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for n, want := range map[int64]string{0: "0", 1 << 30: "1G", 500 << 20: "500M", 1000: "1000", 3 << 29: "1536M"} {
		if got := sizeValue(n); got != want {
			t.Errorf("sizeValue(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1 << 20: "1 MiB", 1536 << 10: "1.5 MiB", 10 << 30: "10 GiB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
