package pfaimport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mailhost/admin"
)

// AdminSieve imports a Dovecot home's Sieve scripts (Pigeonhole's
// layout: sieve/NAME.sieve, and .dovecot.sieve, a link to the active one
// or a script of its own) as the mailbox's scripts, through the admin
// service: each is compiled, so a script using an extension mailhost
// lacks is refused with its line and reported. A script of that name the
// mailbox has already (a second run, or one the user changed since) is
// left alone; the active script is activated only when none is.
type AdminSieve struct {
	Admin *admin.Service
}

// ImportSieve implements SieveImporter.
func (a AdminSieve) ImportSieve(ctx context.Context, mailbox, home string, scripts []string) error {
	have, err := a.Admin.SieveScripts(ctx, admin.CLI(), mailbox)
	if err != nil {
		return err
	}
	exists, anyActive := map[string]bool{}, false
	for _, s := range have.Scripts {
		exists[s.Name] = true
		anyActive = anyActive || s.Active
	}
	active := ""
	var errs []error
	for _, p := range scripts {
		name := strings.TrimSuffix(filepath.Base(p), ".sieve")
		if filepath.Base(p) == ".dovecot.sieve" {
			if target, err := os.Readlink(p); err == nil {
				active = strings.TrimSuffix(filepath.Base(target), ".sieve")
				continue // the link names the active script of sieve/
			}
			name = "dovecot"
			active = name
		}
		if exists[name] {
			continue
		}
		content, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		text := string(content)
		if _, err := a.Admin.PutSieveScript(ctx, admin.CLI(), mailbox, name, admin.SieveScriptInput{Content: &text}); err != nil {
			errs = append(errs, fmt.Errorf("script %q: %v", name, err))
			continue
		}
		exists[name] = true
	}
	if active != "" && !anyActive && exists[active] {
		if err := a.Admin.ActivateSieveScript(ctx, admin.CLI(), mailbox, admin.SieveActivation{Name: &active}); err != nil {
			errs = append(errs, fmt.Errorf("activate %q: %v", active, err))
		}
	}
	return errors.Join(errs...)
}
