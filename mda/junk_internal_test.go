package mda

import (
	"testing"

	"mailhost/store"
)

// TestJunkTarget: spam goes to Junk unless the recipient named a folder.
func TestJunkTarget(t *testing.T) {
	for _, tc := range []struct {
		folder string
		junk   bool
		want   string
	}{
		{"INBOX", true, "Junk"},
		{"INBOX", false, "INBOX"},
		{"news", true, "news"},
	} {
		r := Recipient{Target: store.LocalTarget{Folder: tc.folder, FolderID: 7}, Junk: tc.junk}
		junkTarget(&r)
		if r.Target.Folder != tc.want || (tc.want == "Junk") != (r.Target.FolderID == 0) {
			t.Errorf("%s junk=%v: folder %q id %d, want %q", tc.folder, tc.junk, r.Target.Folder, r.Target.FolderID, tc.want)
		}
	}
}
