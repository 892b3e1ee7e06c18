package pfaimport

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailhost/admin"
	"mailhost/testdb"
)

// A Dovecot home's Pigeonhole scripts become the mailbox's scripts, the
// one .dovecot.sieve links to active; a second run changes nothing; a
// script that does not compile here is reported with its reason.
func TestAdminSieveImport(t *testing.T) {
	st := testdb.Open(t)
	root := t.TempDir()
	svc := admin.New(st, admin.Options{Hasher: testHasher, MaildirRoot: root, Owner: ownerOf(t, root)})
	ctx := context.Background()
	dom, local, pw := "example.com", "ann", "pw-for-ann-1234"
	if _, err := svc.CreateDomain(ctx, admin.CLI(), admin.DomainInput{Name: &dom}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateMailbox(ctx, admin.CLI(), dom, admin.MailboxInput{LocalPart: &local, Password: &pw}); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	writeFile(t, filepath.Join(home, "sieve", "lists.sieve"), "require \"fileinto\";\nif header :contains \"List-Id\" \"golang\" { fileinto \"Lists\"; }\n")
	writeFile(t, filepath.Join(home, "sieve", "old.sieve"), "keep;\n")
	writeFile(t, filepath.Join(home, "sieve", "bad.sieve"), "require \"vnd.dovecot.pipe\";\npipe \"x\";\n")
	if err := os.Symlink("sieve/lists.sieve", filepath.Join(home, ".dovecot.sieve")); err != nil {
		t.Fatal(err)
	}
	imp := AdminSieve{Admin: svc}
	err := imp.ImportSieve(ctx, "ann@example.com", home, sieveFiles(home))
	if err == nil || !strings.Contains(err.Error(), `script "bad"`) {
		t.Errorf("the script using vnd.dovecot.pipe: err %v", err)
	}
	list := func() map[string]bool {
		v, err := svc.SieveScripts(ctx, admin.CLI(), "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, s := range v.Scripts {
			got[s.Name] = s.Active
		}
		return got
	}
	if got := list(); len(got) != 2 || !got["lists"] || got["old"] {
		t.Fatalf("scripts after the import (name: active): %v", got)
	}
	// The user changes the active script; a second run leaves it so.
	none := "old"
	if err := svc.ActivateSieveScript(ctx, admin.CLI(), "ann@example.com", admin.SieveActivation{Name: &none}); err != nil {
		t.Fatal(err)
	}
	imp.ImportSieve(ctx, "ann@example.com", home, sieveFiles(home))
	if got := list(); len(got) != 2 || got["lists"] || !got["old"] {
		t.Errorf("scripts after a second run: %v", got)
	}
}
