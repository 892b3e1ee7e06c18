package admin

import (
	"context"
	"errors"
	"strings"

	"mailhost/auth"
	"mailhost/store"
)

// This file holds what the web panel needs beyond the API's operations:
// admin logins by password, the first-run setup, and mailbox owners
// managing their own mailbox. Permissions stay decided here.

// dummyAdminHash is compared when an admin login names nobody, so that an
// unknown user name costs the time of a real check (ARGON2ID, default
// parameters, of a password nobody knows).
const dummyAdminHash = "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$FWCVAxcxB7wE0FTF74Fq4Q$p3tMMnYb77b3zAGwZzGlnElho0SH/+9tjCpquVz8HHc"

// AdminLogin is AuthenticateAdmin for the web panel's login form, with
// two additions: a user name that names nobody still costs the time of a
// password check (and counts as a failure), so the form does not tell
// which admins exist; but a name with an "@" that names no admin is left
// to the caller, unchecked and uncounted, since it is a mailbox owner's
// login that the caller checks (once) through the mail protocols'
// Authenticator. Unknown user, wrong password and inactive admin are the
// same Unauthorized error; throttled logins are Throttled, a busy server
// Unavailable.
func (s *Service) AdminLogin(ctx context.Context, username, password, remote string) (Actor, error) {
	n, why := normUsername(username)
	if why == "" {
		_, err := s.st.Read().AdminByUsername(ctx, n)
		if err == nil {
			return s.AuthenticateAdmin(ctx, username, password, remote)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return Actor{}, err
		}
	}
	fail := newErr(Unauthorized, "wrong user name or password")
	if strings.Contains(username, "@") {
		return Actor{}, fail
	}
	at, err := s.reserve(ctx, remote, strings.TrimPrefix(auth.AccountKey(username), auth.AccountKeyPrefix))
	if err != nil {
		return Actor{}, err
	}
	defer at.Release()
	if err := at.Hash(ctx, func() { auth.Verify(dummyAdminHash, password) }); err != nil { //nolint:errcheck // spends the time of a real check
		return Actor{}, loginError(err)
	}
	if err := at.FailAndWait(ctx); !errors.Is(err, auth.ErrInvalidCredentials) {
		return Actor{}, err
	}
	return Actor{}, fail
}

func adminActor(ad store.Admin, remote string) Actor {
	return Actor{Kind: "admin", AdminID: ad.ID, Username: ad.Username, Superadmin: ad.Superadmin,
		DomainIDs: append([]int64{}, ad.DomainIDs...), Remote: remote}
}

// AdminActor returns the actor of a logged-in admin by id, with its rights
// as they are now; an admin deleted or deactivated since is Unauthorized.
func (s *Service) AdminActor(ctx context.Context, adminID int64, remote string) (Actor, error) {
	ad, err := s.st.Read().AdminByID(ctx, adminID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !ad.Active {
		return Actor{}, newErr(Unauthorized, "admin no longer active")
	}
	if err != nil {
		return Actor{}, err
	}
	return adminActor(ad, remote), nil
}

// HasAdmins reports whether any admin exists; while none does, the web
// panel offers its one-time setup page.
func (s *Service) HasAdmins(ctx context.Context) (bool, error) {
	return s.st.Read().AnyAdmin(ctx)
}

// CreateFirstAdmin creates the first super-admin, from the web panel's
// one-time setup page. It is refused (Conflict) once any admin exists.
func (s *Service) CreateFirstAdmin(ctx context.Context, username, password, remote string) (AdminView, error) {
	has, err := s.HasAdmins(ctx)
	if err != nil {
		return AdminView{}, err
	}
	if has {
		return AdminView{}, newErr(Conflict, "an admin already exists; setup is done")
	}
	super := true
	a := Actor{Kind: "system", Superadmin: true, Username: "setup", Remote: remote}
	return s.CreateAdmin(ctx, a, AdminInput{Username: &username, Password: &password, Superadmin: &super})
}

// Owner is a mailbox owner logged in to the web panel. It may read its
// mailbox and change its own password, forwarding and vacation reply,
// nothing else.
type Owner struct {
	MailboxID int64
	Address   string
	actor     Actor
}

// OwnerOf returns the owner of the mailbox with that id, for a session; a
// mailbox deleted or deactivated since (or in an inactive domain) is
// Unauthorized.
func (s *Service) OwnerOf(ctx context.Context, mailboxID int64, remote string) (Owner, error) {
	tx := s.st.Read()
	m, err := tx.MailboxByID(ctx, mailboxID)
	if errors.Is(err, store.ErrNotFound) {
		return Owner{}, newErr(Unauthorized, "mailbox no longer exists")
	}
	if err != nil {
		return Owner{}, err
	}
	d, err := tx.DomainByID(ctx, m.DomainID, false)
	if err != nil {
		return Owner{}, err
	}
	if !m.Active || !d.Active {
		return Owner{}, newErr(Unauthorized, "mailbox or domain inactive")
	}
	return Owner{MailboxID: m.ID, Address: m.Address, actor: Actor{Kind: "user", Username: m.Address,
		DomainIDs: []int64{m.DomainID}, Remote: remote}}, nil
}

// OwnMailbox returns the owner's mailbox.
func (s *Service) OwnMailbox(ctx context.Context, o Owner) (MailboxView, error) {
	return s.Mailbox(ctx, o.actor, o.Address)
}

// ChangeOwnPassword sets the owner's password after checking the current
// one (field "current_password"). The check goes through the login
// throttle like a login of the mailbox (Throttled when blocked; a wrong
// current password counts as a failure).
func (s *Service) ChangeOwnPassword(ctx context.Context, o Owner, current, password string) error {
	m, err := s.st.Read().MailboxByID(ctx, o.MailboxID)
	if err != nil {
		return notFound(err, "no mailbox %s", o.Address)
	}
	at, err := s.reserve(ctx, o.actor.Remote, o.Address)
	if err != nil {
		return err
	}
	defer at.Release()
	var ok bool
	if err := at.Hash(ctx, func() { ok, _ = auth.Verify(m.Password, current) }); err != nil {
		return loginError(err)
	}
	var f fields
	if ok {
		at.Succeed(ctx)
	} else {
		if err := at.FailAndWait(ctx); !errors.Is(err, auth.ErrInvalidCredentials) {
			return err
		}
		f.add("current_password", "is not your current password")
	}
	checkPassword(&f, "password", password)
	if err := f.err(); err != nil {
		return err
	}
	_, err = s.UpdateMailbox(ctx, o.actor, o.Address, MailboxInput{Password: &password})
	return err
}

// OwnForwarding returns the owner's forwarding (NotFound when none).
func (s *Service) OwnForwarding(ctx context.Context, o Owner) (ForwardingView, error) {
	return s.Forwarding(ctx, o.actor, o.Address)
}

// SetOwnForwarding sets the owner's forwarding.
func (s *Service) SetOwnForwarding(ctx context.Context, o Owner, in ForwardingInput) (ForwardingView, error) {
	return s.SetForwarding(ctx, o.actor, o.Address, in)
}

// DeleteOwnForwarding stops the owner's forwarding.
func (s *Service) DeleteOwnForwarding(ctx context.Context, o Owner) error {
	return s.DeleteForwarding(ctx, o.actor, o.Address)
}

// OwnVacation returns the owner's vacation reply (NotFound when none).
func (s *Service) OwnVacation(ctx context.Context, o Owner) (VacationView, error) {
	return s.Vacation(ctx, o.actor, o.Address)
}

// SetOwnVacation sets the owner's vacation reply.
func (s *Service) SetOwnVacation(ctx context.Context, o Owner, in VacationInput) (VacationView, error) {
	return s.SetVacation(ctx, o.actor, o.Address, in)
}

// DeleteOwnVacation removes the owner's vacation reply.
func (s *Service) DeleteOwnVacation(ctx context.Context, o Owner) error {
	return s.DeleteVacation(ctx, o.actor, o.Address)
}

// OwnSieveScripts lists the owner's scripts and last run-time error.
func (s *Service) OwnSieveScripts(ctx context.Context, o Owner) (SieveScriptsView, error) {
	return s.SieveScripts(ctx, o.actor, o.Address)
}

// OwnSieveScript returns one of the owner's scripts.
func (s *Service) OwnSieveScript(ctx context.Context, o Owner, name string) (SieveScriptView, error) {
	return s.SieveScript(ctx, o.actor, o.Address, name)
}

// SetOwnSieveScript creates or replaces one of the owner's scripts.
func (s *Service) SetOwnSieveScript(ctx context.Context, o Owner, name string, in SieveScriptInput) (SieveScriptView, error) {
	return s.PutSieveScript(ctx, o.actor, o.Address, name, in)
}

// ActivateOwnSieveScript makes one of the owner's scripts active ("" none).
func (s *Service) ActivateOwnSieveScript(ctx context.Context, o Owner, name string) error {
	return s.ActivateSieveScript(ctx, o.actor, o.Address, SieveActivation{Name: &name})
}

// TestOwnSieveScript runs a script against a pasted message for the owner.
func (s *Service) TestOwnSieveScript(ctx context.Context, o Owner, in SieveTestInput) (SieveTestResult, error) {
	return s.TestSieveScript(ctx, o.actor, o.Address, in)
}
