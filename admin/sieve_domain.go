package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailhost/sieve"
	"mailhost/store"
)

// domainSieveFor is domainFor for a domain's scripts: its admins only,
// never a mailbox owner of the domain.
func (s *Service) domainSieveFor(ctx context.Context, tx *store.Tx, a Actor, domain string, lock bool) (store.Domain, error) {
	if a.Kind == "user" {
		return store.Domain{}, newErr(Forbidden, "a domain's scripts are its admins'")
	}
	return s.domainFor(ctx, tx, a, domain, lock)
}

// DomainSieveScripts lists a domain's scripts.
func (s *Service) DomainSieveScripts(ctx context.Context, a Actor, domain string) (SieveScriptsView, error) {
	tx := s.st.Read()
	d, err := s.domainSieveFor(ctx, tx, a, domain, false)
	if err != nil {
		return SieveScriptsView{}, err
	}
	list, err := tx.DomainSieveScripts(ctx, d.ID)
	if err != nil {
		return SieveScriptsView{}, err
	}
	out := SieveScriptsView{Owner: d.Name, Scripts: []SieveScriptView{}}
	for _, sc := range list {
		out.Scripts = append(out.Scripts, sieveView(d.Name, sc, false))
	}
	return out, nil
}

// DomainSieveScript returns one of a domain's scripts.
func (s *Service) DomainSieveScript(ctx context.Context, a Actor, domain, name string) (SieveScriptView, error) {
	tx := s.st.Read()
	d, err := s.domainSieveFor(ctx, tx, a, domain, false)
	if err != nil {
		return SieveScriptView{}, err
	}
	sc, err := tx.DomainSieveScript(ctx, d.ID, name)
	if err != nil {
		return SieveScriptView{}, notFound(err, "domain %s has no script %q", d.Name, name)
	}
	return sieveView(d.Name, sc, true), nil
}

// PutDomainSieveScript creates or replaces a domain's script: position
// before (default), after or global; active by default.
func (s *Service) PutDomainSieveScript(ctx context.Context, a Actor, domain, name string, in SieveScriptInput) (SieveScriptView, error) {
	return s.putDomainSieveScript(ctx, a, domain, name, in, false)
}

// CreateDomainSieveScript is PutDomainSieveScript for a new script (the
// panel's "New filter"): a script of that name already there is a field
// error on name, and stays as it was.
func (s *Service) CreateDomainSieveScript(ctx context.Context, a Actor, domain, name string, in SieveScriptInput) (SieveScriptView, error) {
	return s.putDomainSieveScript(ctx, a, domain, name, in, true)
}

func (s *Service) putDomainSieveScript(ctx context.Context, a Actor, domain, name string, in SieveScriptInput, create bool) (SieveScriptView, error) {
	var f fields
	checkSieveName(&f, name)
	s.checkSieveContent(&f, in.Content)
	pos, active := store.SieveBefore, true
	if in.Position != nil {
		pos = *in.Position
		if pos != store.SieveBefore && pos != store.SieveAfter && pos != store.SieveGlobal {
			f.add("position", "must be before, after or global")
		}
	}
	if in.Active != nil {
		active = *in.Active
	}
	if err := f.err(); err != nil {
		return SieveScriptView{}, err
	}
	var out SieveScriptView
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := s.domainSieveFor(ctx, tx, a, domain, true)
		if err != nil {
			return err
		}
		var before any
		if old, err := tx.DomainSieveScript(ctx, d.ID, name); err == nil {
			if create {
				var f fields
				f.add("name", "%s already has a filter named %q; edit it from the list", d.Name, name)
				return f.err()
			}
			before = sieveView(d.Name, old, true)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		sc, err := tx.PutDomainSieveScript(ctx, d.ID, name, pos, *in.Content, active)
		if err != nil {
			return err
		}
		out = sieveView(d.Name, sc, true)
		return s.audit(ctx, tx, a, "set", "domain_sieve_script", d.Name+"/"+name, d.Name, before, out)
	})
	return out, err
}

// DeleteDomainSieveScript removes a domain's script.
func (s *Service) DeleteDomainSieveScript(ctx context.Context, a Actor, domain, name string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := s.domainSieveFor(ctx, tx, a, domain, true)
		if err != nil {
			return err
		}
		old, err := tx.DomainSieveScript(ctx, d.ID, name)
		if err != nil {
			return notFound(err, "domain %s has no script %q", d.Name, name)
		}
		if err := tx.DeleteDomainSieveScript(ctx, d.ID, name); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "delete", "domain_sieve_script", d.Name+"/"+name, d.Name, sieveView(d.Name, old, true), nil)
	})
}

// SieveTestInput is a "test this message" request: a script (its text)
// and a pasted message, with the envelope sender to assume.
type SieveTestInput struct {
	Content *string `json:"content"`
	Message *string `json:"message"`
	From    string  `json:"from"`
}

// SieveTestResult lists what the script would do, one line per action.
type SieveTestResult struct {
	Actions []string `json:"actions"`
}

// TestSieveScript runs a script against a pasted message, as delivery
// would run it for the mailbox, and describes the actions. Nothing is
// stored or sent.
func (s *Service) TestSieveScript(ctx context.Context, a Actor, addr string, in SieveTestInput) (SieveTestResult, error) {
	var f fields
	s.checkSieveContent(&f, in.Content)
	if in.Message == nil || strings.TrimSpace(*in.Message) == "" {
		f.add("message", "is required: paste a whole message, header and body")
	}
	if err := f.err(); err != nil {
		return SieveTestResult{}, err
	}
	m, err := s.mailboxFor(ctx, s.st.Read(), a, addr, false)
	if err != nil {
		return SieveTestResult{}, err
	}
	size, _ := s.sieveLimits()
	script, err := sieve.Compile(*in.Content, sieve.Options{MaxScriptSize: size})
	if err != nil {
		return SieveTestResult{}, err // checked above
	}
	raw := strings.ReplaceAll(strings.ReplaceAll(*in.Message, "\r\n", "\n"), "\n", "\r\n")
	msg := sieve.NewMessage([]byte(raw))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	res, err := sieve.Run(ctx, sieve.Input{Message: msg, Envelope: sieve.Envelope{From: in.From, To: m.Address},
		Scores: sieve.HeaderScores{Msg: msg}, Includer: testIncluder{s.st, m.ID}}, script)
	var re *sieve.RuntimeError
	if errors.As(err, &re) {
		return SieveTestResult{Actions: []string{"error: " + re.Msg + " (the message would go to INBOX)"}}, nil
	}
	if err != nil {
		return SieveTestResult{}, err
	}
	out := SieveTestResult{Actions: []string{}}
	for _, act := range res.Actions {
		out.Actions = append(out.Actions, describeAction(act))
	}
	return out, nil
}

// describeAction says what an action does, for the owner.
func describeAction(a sieve.Action) string {
	var d string
	switch a.Kind {
	case sieve.Keep:
		d = "keep in INBOX"
		if a.Implicit {
			d += " (no rule matched or none cancelled the keep)"
		}
	case sieve.FileInto:
		d = fmt.Sprintf("file into %q", a.Mailbox)
		if a.Create {
			d += ", creating it"
		}
	case sieve.Redirect:
		d = "forward to " + a.Address
	case sieve.Discard:
		d = "discard"
	case sieve.Reject, sieve.EReject:
		d = fmt.Sprintf("reject with %q", a.Reason)
	case sieve.Vacation:
		d = fmt.Sprintf("answer with a vacation reply (once per sender every %v)", a.Vacation.Period)
	}
	if a.Copy {
		d += " (a copy)"
	}
	if len(a.Flags) > 0 {
		d += ", flags " + strings.Join(a.Flags, " ")
	}
	return d
}

// testIncluder reads include's scripts from the store, for tests of a
// script.
type testIncluder struct {
	st        *store.Store
	mailboxID int64
}

func (i testIncluder) Include(ctx context.Context, global bool, name string) (*sieve.Script, error) {
	ref, err := i.st.SieveInclude(ctx, i.mailboxID, global, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, sieve.ErrNoScript
	}
	if err != nil {
		return nil, err
	}
	src, err := i.st.SieveContent(ctx, ref)
	if err != nil {
		return nil, err
	}
	return sieve.Compile(src, sieve.Options{})
}
