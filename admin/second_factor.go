package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"image/png"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"mailhost/auth"
	"mailhost/store"
)

// The panel's second factor: TOTP (RFC 6238) for admins and mailbox
// owners. An enrolment is pending until a code computed from its secret
// is entered; then it takes effect, ten single-use recovery codes are
// shown once (stored as SHA-256), and the secret is never shown again. It
// stays in the database as it is (the server must compute codes from
// it), readable only by who can read the database. A code is good once:
// its 30-second step must be later than the last accepted one. Every
// change of a second factor ends the account's panel sessions.

// totpPeriod, totpDigits and totpSkew are RFC 6238's defaults as
// authenticator apps expect them: 30-second steps, six digits; one step
// either side is accepted for clocks that drift (RFC 6238 5.2).
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	totpSkew   = 1
)

// RecoveryCodeCount is how many recovery codes an enrolment gives.
const RecoveryCodeCount = 10

// Account names whose second factor an operation concerns: an admin or a
// mailbox owner (exactly one id set). The panel makes it from the login
// that passed its password check, or from the session.
type Account struct {
	AdminID   int64
	MailboxID int64
}

// Account is the account of an admin actor.
func (a Actor) Account() Account { return Account{AdminID: a.AdminID} }

// Account is the account of a mailbox owner.
func (o Owner) Account() Account { return Account{MailboxID: o.MailboxID} }

func (c Account) principal() store.Principal {
	return store.Principal{AdminID: c.AdminID, MailboxID: c.MailboxID}
}

func (c Account) valid() bool { return (c.AdminID == 0) != (c.MailboxID == 0) }

// SecondFactorView is the state of an account's second factor.
type SecondFactorView struct {
	Enabled           bool `json:"enabled"`             // confirmed: the panel asks a code at login
	Pending           bool `json:"pending"`             // an enrolment waits for its first code
	RecoveryCodesLeft int  `json:"recovery_codes_left"` // unused recovery codes
}

// TOTPEnrolment is what an account needs to add the secret to an
// authenticator app: shown only while the enrolment is pending.
type TOTPEnrolment struct {
	Secret string // base32, for typing in
	URL    string // otpauth:// URI, what the QR code holds
	QRPNG  string // the QR code as a data: URI of a PNG, rendered here (no external service)
}

// accountName is how an authenticator app lists the account.
func (s *Service) accountName(ctx context.Context, tx *store.Tx, c Account) (name, domain string, err error) {
	if c.AdminID != 0 {
		ad, err := tx.AdminByID(ctx, c.AdminID)
		if err != nil {
			return "", "", notFound(err, "no such admin")
		}
		return ad.Username, "", nil
	}
	m, err := tx.MailboxByID(ctx, c.MailboxID)
	if err != nil {
		return "", "", notFound(err, "no such mailbox")
	}
	_, d, _ := strings.Cut(m.Address, "@")
	return m.Address, d, nil
}

// SecondFactor returns the state of c's second factor.
func (s *Service) SecondFactor(ctx context.Context, c Account) (SecondFactorView, error) {
	if !c.valid() {
		return SecondFactorView{}, newErr(NotFound, "no such account")
	}
	tx := s.st.Read()
	t, err := tx.TOTPOf(ctx, c.principal())
	if errors.Is(err, store.ErrNotFound) {
		return SecondFactorView{}, nil
	}
	if err != nil {
		return SecondFactorView{}, err
	}
	v := SecondFactorView{Enabled: t.ConfirmedAt != nil, Pending: t.ConfirmedAt == nil}
	if v.Enabled {
		if v.RecoveryCodesLeft, err = tx.RecoveryCodesLeft(ctx, t.ID); err != nil {
			return SecondFactorView{}, err
		}
	}
	return v, nil
}

// BeginTOTP starts (or shows again) c's enrolment: a new random secret,
// unless one is pending already. An account whose second factor is on
// gets Conflict: it must disable it first.
func (s *Service) BeginTOTP(ctx context.Context, c Account) (TOTPEnrolment, error) {
	if !c.valid() {
		return TOTPEnrolment{}, newErr(NotFound, "no such account")
	}
	var out TOTPEnrolment
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		name, _, err := s.accountName(ctx, tx, c)
		if err != nil {
			return err
		}
		t, err := tx.TOTPOf(ctx, c.principal())
		switch {
		case err == nil && t.ConfirmedAt != nil:
			return newErr(Conflict, "a second factor is already on; disable it first")
		case errors.Is(err, store.ErrNotFound):
			k, err := totp.Generate(totp.GenerateOpts{Issuer: s.issuer(), AccountName: name, Period: totpPeriod, Digits: totpDigits})
			if err != nil {
				return err
			}
			if t, err = tx.BeginTOTP(ctx, c.principal(), k.Secret()); err != nil {
				return conflict(err, "a second factor is already on; disable it first")
			}
		case err != nil:
			return err
		}
		out, err = s.enrolment(name, t.Secret)
		return err
	})
	return out, err
}

func (s *Service) issuer() string {
	if s.opts.TOTPIssuer != "" {
		return s.opts.TOTPIssuer
	}
	return "mailhost"
}

// enrolment renders the otpauth URI of secret and its QR code.
func (s *Service) enrolment(name, secret string) (TOTPEnrolment, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	k, err := totp.Generate(totp.GenerateOpts{Issuer: s.issuer(), AccountName: name, Period: totpPeriod,
		Digits: totpDigits, Secret: raw})
	if err != nil {
		return TOTPEnrolment{}, err
	}
	img, err := k.Image(240, 240)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{Secret: secret, URL: k.URL(),
		QRPNG: "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())}, nil
}

// ConfirmTOTP makes c's pending enrolment take effect when code is right
// for its secret (field "code" otherwise), and returns the recovery codes,
// shown this once. The account's panel sessions end: the panel starts a
// new one for the request that confirmed.
func (s *Service) ConfirmTOTP(ctx context.Context, c Account, code string) ([]string, error) {
	if !c.valid() {
		return nil, newErr(NotFound, "no such account")
	}
	codes, hashes := newRecoveryCodes()
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		t, err := tx.TOTPOf(ctx, c.principal())
		if errors.Is(err, store.ErrNotFound) || err == nil && t.ConfirmedAt != nil {
			return newErr(Conflict, "no enrolment is pending; start again")
		}
		if err != nil {
			return err
		}
		step, ok := s.matchTOTP(t.Secret, code)
		if !ok {
			return invalid("code", "is not the current code of this secret; check the device's clock")
		}
		if err := tx.ConfirmTOTP(ctx, t.ID, step, hashes); err != nil {
			return err
		}
		return s.secondFactorChanged(ctx, tx, c, "enable")
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// secondFactorChanged ends c's panel sessions and writes the audit row of
// action on its second factor.
func (s *Service) secondFactorChanged(ctx context.Context, tx *store.Tx, c Account, action string) error {
	return s.secondFactorChangedBy(ctx, tx, s.selfActor(ctx, tx, c), c, action)
}

func (s *Service) secondFactorChangedBy(ctx context.Context, tx *store.Tx, a Actor, c Account, action string) error {
	if _, err := tx.EndWebSessions(ctx, c.principal()); err != nil {
		return err
	}
	name, domain, err := s.accountName(ctx, tx, c)
	if err != nil {
		return err
	}
	return s.audit(ctx, tx, a, action, "second_factor", name, domain, nil, nil)
}

// selfActor is the actor of an account acting on itself, for the audit.
func (s *Service) selfActor(ctx context.Context, tx *store.Tx, c Account) Actor {
	name, _, _ := s.accountName(ctx, tx, c)
	if c.AdminID != 0 {
		return Actor{Kind: "admin", AdminID: c.AdminID, Username: name}
	}
	return Actor{Kind: "user", Username: name}
}

// matchTOTP returns the step of code if it is right for secret within the
// skew. It does not check for replay (AcceptTOTPStep does).
func (s *Service) matchTOTP(secret, code string) (int64, bool) {
	code = strings.NewReplacer(" ", "", "-", "").Replace(code) // "123 456" as some apps show it
	if len(code) != totpDigits.Length() {
		return 0, false
	}
	now := s.opts.Now()
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	for d := -totpSkew; d <= totpSkew; d++ {
		t := now.Add(time.Duration(d*totpPeriod) * time.Second)
		want, err := totp.GenerateCodeCustom(secret, t, opts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return t.Unix() / totpPeriod, true
		}
	}
	return 0, false
}

// CheckSecondFactor checks the second step of c's panel login from
// remote: a current TOTP code not used before, or an unused recovery code
// (then used up). Anything else is Unauthorized, after the failure delay.
// Codes are throttled with the passwords' policy, under an account key of
// their own (codeAccount).
func (s *Service) CheckSecondFactor(ctx context.Context, c Account, code, remote string) error {
	at, err := s.reserve(ctx, remote, codeAccount(c))
	if err != nil {
		return err
	}
	defer at.Release() // a check that ran and did not end counts as failed
	err = newErr(Unauthorized, "wrong code")
	if c.valid() {
		err = s.st.Tx(ctx, func(tx *store.Tx) error {
			return s.useSecondFactor(ctx, tx, c, code)
		})
	}
	return s.settle(ctx, at, err)
}

// settle ends a throttled check: a success gives its place back, a wrong
// code or password (Unauthorized, or a field error) counts as a failure
// and waits out its delay.
func (s *Service) settle(ctx context.Context, at *auth.Attempt, err error) error {
	var ve *ValidationError
	switch {
	case err == nil:
		at.Succeed(ctx)
	case KindOf(err) == Unauthorized || errors.As(err, &ve):
		if ferr := at.FailAndWait(ctx); !errors.Is(ferr, auth.ErrInvalidCredentials) {
			return loginError(ferr)
		}
	}
	return err
}

// codeAccount is the throttle's account name for the second factor of c:
// apart from its password's, so a stranger's wrong passwords do not hold
// back the owner's codes.
func codeAccount(c Account) string {
	if c.AdminID != 0 {
		return "code:admin:" + strconv.FormatInt(c.AdminID, 10)
	}
	return "code:mailbox:" + strconv.FormatInt(c.MailboxID, 10)
}

// useSecondFactor accepts code for c's confirmed secret in tx.
func (s *Service) useSecondFactor(ctx context.Context, tx *store.Tx, c Account, code string) error {
	fail := newErr(Unauthorized, "wrong code")
	t, err := tx.TOTPOf(ctx, c.principal())
	if errors.Is(err, store.ErrNotFound) || err == nil && t.ConfirmedAt == nil {
		return fail
	}
	if err != nil {
		return err
	}
	if step, ok := s.matchTOTP(t.Secret, code); ok {
		fresh, err := tx.AcceptTOTPStep(ctx, t.ID, step)
		if err != nil {
			return err
		}
		if !fresh {
			return newErr(Unauthorized, "this code was used already; wait for the next one")
		}
		return nil
	}
	if h, ok := recoveryHash(code); ok {
		used, err := tx.UseRecoveryCode(ctx, t.ID, h)
		if err != nil {
			return err
		}
		if used {
			s.log.Info("recovery code used", "admin_id", c.AdminID, "mailbox_id", c.MailboxID)
			return nil
		}
	}
	return fail
}

// DisableTOTP turns c's second factor off, given its password (field
// "current_password") and a code or recovery code (field "code"). The
// account's panel sessions end.
func (s *Service) DisableTOTP(ctx context.Context, c Account, password, code, remote string) error {
	return s.proven(ctx, c, password, code, remote, func(tx *store.Tx) error {
		if _, err := tx.DeleteTOTP(ctx, c.principal()); err != nil {
			return err
		}
		return s.secondFactorChanged(ctx, tx, c, "disable")
	})
}

// RegenerateRecoveryCodes replaces c's recovery codes with ten new ones,
// given its password and a code or recovery code as DisableTOTP takes
// them, and returns them, shown this once. The old codes stop working;
// the account's panel sessions end, as for any change of the factor.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, c Account, password, code, remote string) ([]string, error) {
	codes, hashes := newRecoveryCodes()
	err := s.proven(ctx, c, password, code, remote, func(tx *store.Tx) error {
		t, err := tx.TOTPOf(ctx, c.principal())
		if err != nil {
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, t.ID, hashes); err != nil {
			return err
		}
		return s.secondFactorChanged(ctx, tx, c, "recovery-codes")
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// proven runs fn in one transaction once c's password (field
// "current_password") and a current code or unused recovery code (field
// "code") are right. The check is throttled as a login: wrong ones count
// as failures of the account's second factor.
func (s *Service) proven(ctx context.Context, c Account, password, code, remote string, fn func(*store.Tx) error) error {
	if !c.valid() {
		return newErr(NotFound, "no such account")
	}
	at, err := s.reserve(ctx, remote, codeAccount(c))
	if err != nil {
		return err
	}
	defer at.Release()
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		hash, err := s.passwordOf(ctx, tx, c)
		if err != nil {
			return err
		}
		var ok bool
		if err := at.Hash(ctx, func() { ok, _ = auth.Verify(hash, password) }); err != nil {
			return loginError(err)
		}
		var f fields
		if !ok {
			f.add("current_password", "is not your current password")
		} else if err := s.useSecondFactor(ctx, tx, c, code); KindOf(err) == Unauthorized {
			f.add("code", "is not a current code or an unused recovery code")
		} else if err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		return fn(tx)
	})
	return s.settle(ctx, at, err)
}

// passwordOf returns the stored password hash of c.
func (s *Service) passwordOf(ctx context.Context, tx *store.Tx, c Account) (string, error) {
	if c.AdminID != 0 {
		ad, err := tx.AdminByID(ctx, c.AdminID)
		return ad.Password, notFound(err, "no such admin")
	}
	m, err := tx.MailboxByID(ctx, c.MailboxID)
	return m.Password, notFound(err, "no such mailbox")
}

// ResetAdminTOTP removes an admin's second factor (super-admin only), for
// an admin who lost the device and the recovery codes. Its sessions end.
func (s *Service) ResetAdminTOTP(ctx context.Context, a Actor, username string) error {
	if err := a.MayManageAdmins(); err != nil {
		return err
	}
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		ad, err := s.adminFor(ctx, tx, a, username)
		if err != nil {
			return err
		}
		return s.resetTOTP(ctx, tx, a, Account{AdminID: ad.ID})
	})
}

// ResetMailboxTOTP removes a mailbox owner's second factor: the admins of
// its domain may. Its owner's sessions end.
func (s *Service) ResetMailboxTOTP(ctx context.Context, a Actor, addr string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, false)
		if err != nil {
			return err
		}
		return s.resetTOTP(ctx, tx, a, Account{MailboxID: m.ID})
	})
}

func (s *Service) resetTOTP(ctx context.Context, tx *store.Tx, a Actor, c Account) error {
	had, err := tx.DeleteTOTP(ctx, c.principal())
	if err != nil {
		return err
	}
	if !had {
		return newErr(NotFound, "no second factor to reset")
	}
	return s.secondFactorChangedBy(ctx, tx, a, c, "reset")
}

// AdminSecondFactor returns an admin's second factor state (super-admin,
// or the admin itself).
func (s *Service) AdminSecondFactor(ctx context.Context, a Actor, username string) (SecondFactorView, error) {
	ad, err := s.adminFor(ctx, s.st.Read(), a, username)
	if err != nil {
		return SecondFactorView{}, err
	}
	return s.SecondFactor(ctx, Account{AdminID: ad.ID})
}

// MailboxSecondFactor returns a mailbox owner's second factor state (the
// admins of its domain).
func (s *Service) MailboxSecondFactor(ctx context.Context, a Actor, addr string) (SecondFactorView, error) {
	m, err := s.mailboxFor(ctx, s.st.Read(), a, addr, false)
	if err != nil {
		return SecondFactorView{}, err
	}
	return s.SecondFactor(ctx, Account{MailboxID: m.ID})
}

// newRecoveryCodes returns RecoveryCodeCount fresh codes ("xxxxx-xxxxx",
// 50 random bits each: guessing one is throttled as a password is) and
// their hashes.
func newRecoveryCodes() ([]string, [][]byte) {
	codes := make([]string, RecoveryCodeCount)
	hashes := make([][]byte, RecoveryCodeCount)
	for i := range codes {
		p := auth.NewAppPassword() // the same alphabet, enough letters
		codes[i] = p[:5] + "-" + p[7:12]
		hashes[i], _ = recoveryHash(codes[i])
	}
	return codes, hashes
}

// recoveryHash returns the SHA-256 of a recovery code as stored, ignoring
// dashes, spaces and case, and whether s has the shape of one.
func recoveryHash(s string) ([]byte, bool) {
	s = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(s))
	if len(s) != 10 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return nil, false
	}
	h := sha256.Sum256([]byte(s))
	return h[:], true
}
