package admin

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"mailhost/address"
	"mailhost/sieve"
	"mailhost/store"
)

// SieveScriptInput is the body of a script PUT. Position and Active apply
// to a domain's scripts; a mailbox's script is activated apart
// (ActivateSieveScript), as ManageSieve does.
type SieveScriptInput struct {
	Content  *string `json:"content"`
	Position *string `json:"position,omitempty"` // domain scripts: before, after or global
	Active   *bool   `json:"active,omitempty"`   // domain scripts
}

// SieveScriptView is one script.
type SieveScriptView struct {
	Owner     string    `json:"owner"` // the mailbox address or the domain
	Name      string    `json:"name"`
	Position  string    `json:"position"`
	Active    bool      `json:"active"`
	Content   string    `json:"content"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SieveScriptsView lists a mailbox's or a domain's scripts (without their
// content) and the mailbox's last run-time error.
type SieveScriptsView struct {
	Owner     string            `json:"owner"`
	Scripts   []SieveScriptView `json:"scripts"`
	LastError *SieveErrorView   `json:"last_error,omitempty"`
}

// SieveErrorView is the last run-time failure of a mailbox's scripts.
type SieveErrorView struct {
	Message    string    `json:"message"`
	OccurredAt time.Time `json:"occurred_at"`
	Failures   int64     `json:"failures"`
}

// SieveActivation is the body of an activation: the script to make
// active, "" for none.
type SieveActivation struct {
	Name *string `json:"name"`
}

func sieveView(owner string, s store.SieveScript, withContent bool) SieveScriptView {
	v := SieveScriptView{Owner: owner, Name: s.Name, Position: s.Position, Active: s.Active, Version: s.Version,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if withContent {
		v.Content = s.Content
	}
	return v
}

func (s *Service) sieveLimits() (size, count int) {
	size, count = s.opts.SieveMaxScriptSize, s.opts.SieveMaxScripts
	if size <= 0 {
		size = sieve.DefaultMaxScriptSize
	}
	if count <= 0 {
		count = 20
	}
	return size, count
}

// checkSieveName is RFC 5804 1.6's rule for script names, as ManageSieve
// applies it.
func checkSieveName(f *fields, name string) {
	if name == "" || len(name) > 128 || !utf8.ValidString(name) || strings.Contains(name, "/") {
		f.add("name", "must be 1 to 128 bytes of UTF-8 without '/'")
		return
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			f.add("name", "must not hold control characters")
			return
		}
	}
}

// checkSieveContent compiles a script; its error, with the line, is the
// content field's.
func (s *Service) checkSieveContent(f *fields, content *string) {
	size, _ := s.sieveLimits()
	if content == nil {
		f.add("content", "is required")
		return
	}
	if !utf8.ValidString(*content) {
		f.add("content", "is not valid UTF-8")
		return
	}
	_, err := sieve.Compile(*content, sieve.Options{MaxScriptSize: size})
	var se *sieve.Error
	if errors.As(err, &se) {
		f.add("content", "line %d: %s", se.Line, se.Msg)
	}
}

// SieveScripts lists a mailbox's scripts and its last run-time error.
func (s *Service) SieveScripts(ctx context.Context, a Actor, addr string) (SieveScriptsView, error) {
	tx := s.st.Read()
	m, err := s.mailboxFor(ctx, tx, a, addr, false)
	if err != nil {
		return SieveScriptsView{}, err
	}
	list, err := tx.SieveScripts(ctx, m.ID)
	if err != nil {
		return SieveScriptsView{}, err
	}
	out := SieveScriptsView{Owner: m.Address, Scripts: []SieveScriptView{}}
	for _, sc := range list {
		out.Scripts = append(out.Scripts, sieveView(m.Address, sc, false))
	}
	switch e, err := tx.LastSieveError(ctx, m.ID); {
	case err == nil:
		out.LastError = &SieveErrorView{Message: e.Message, OccurredAt: e.OccurredAt, Failures: e.Failures}
	case !errors.Is(err, store.ErrNotFound):
		return SieveScriptsView{}, err
	}
	return out, nil
}

// SieveScript returns one of a mailbox's scripts with its content.
func (s *Service) SieveScript(ctx context.Context, a Actor, addr, name string) (SieveScriptView, error) {
	tx := s.st.Read()
	m, err := s.mailboxFor(ctx, tx, a, addr, false)
	if err != nil {
		return SieveScriptView{}, err
	}
	sc, err := tx.SieveScript(ctx, m.ID, name)
	if err != nil {
		return SieveScriptView{}, notFound(err, "mailbox %s has no script %q", m.Address, name)
	}
	return sieveView(m.Address, sc, true), nil
}

// PutSieveScript creates or replaces a mailbox's script after compiling
// it (a script error is the content field's, with its line).
func (s *Service) PutSieveScript(ctx context.Context, a Actor, addr, name string, in SieveScriptInput) (SieveScriptView, error) {
	var f fields
	checkSieveName(&f, name)
	s.checkSieveContent(&f, in.Content)
	if in.Position != nil || in.Active != nil {
		f.add("position", "applies to domain scripts only; activate a mailbox's script with PUT .../sieve/active")
	}
	if err := f.err(); err != nil {
		return SieveScriptView{}, err
	}
	_, maxScripts := s.sieveLimits()
	var out SieveScriptView
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		var before any
		if old, err := tx.SieveScript(ctx, m.ID, name); err == nil {
			before = sieveView(m.Address, old, true)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		sc, err := tx.PutSieveScript(ctx, m.ID, name, *in.Content, maxScripts)
		if errors.Is(err, store.ErrTooManyScripts) {
			return newErr(LimitReached, "mailbox %s has %d scripts, the most allowed", m.Address, maxScripts)
		}
		if err != nil {
			return err
		}
		out = sieveView(m.Address, sc, true)
		_, dom := address.Split(m.Address)
		return s.audit(ctx, tx, a, "set", "sieve_script", m.Address+"/"+name, dom, before, out)
	})
	return out, err
}

// DeleteSieveScript removes a mailbox's script; the active one cannot be
// (Conflict), as in ManageSieve.
func (s *Service) DeleteSieveScript(ctx context.Context, a Actor, addr, name string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		old, err := tx.SieveScript(ctx, m.ID, name)
		if err != nil {
			return notFound(err, "mailbox %s has no script %q", m.Address, name)
		}
		if err := tx.DeleteSieveScript(ctx, m.ID, name); errors.Is(err, store.ErrActiveScript) {
			return newErr(Conflict, "script %q is active: activate another one (or none) first", name)
		} else if err != nil {
			return err
		}
		_, dom := address.Split(m.Address)
		return s.audit(ctx, tx, a, "delete", "sieve_script", m.Address+"/"+name, dom, sieveView(m.Address, old, true), nil)
	})
}

// ActivateSieveScript makes one of a mailbox's scripts the active one, or
// none when name is "".
func (s *Service) ActivateSieveScript(ctx context.Context, a Actor, addr string, in SieveActivation) error {
	if in.Name == nil {
		return invalid("name", "is required (\"\" turns every script off)")
	}
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		if err := tx.ActivateSieveScript(ctx, m.ID, *in.Name); errors.Is(err, store.ErrNotFound) {
			return invalid("name", "mailbox %s has no script %q", m.Address, *in.Name)
		} else if err != nil {
			return err
		}
		_, dom := address.Split(m.Address)
		return s.audit(ctx, tx, a, "activate", "sieve_script", m.Address+"/"+*in.Name, dom, nil, map[string]string{"active": *in.Name})
	})
}
