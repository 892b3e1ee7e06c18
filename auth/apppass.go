package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strings"

	"mailhost/store"
)

// ProtoManageSieve is the protocol of ManageSieve logins (RFC 5804), for
// when that server exists; app passwords may already name it.
const ProtoManageSieve = "managesieve"

// AppProtocols are the protocols an app password may be limited to.
var AppProtocols = []string{ProtoSMTP, ProtoIMAP, ProtoPOP3, ProtoManageSieve}

// AppPasswords is the storage of app passwords that a login asks when it
// is given one. store.Store satisfies it; an Authenticator whose
// Credentials also satisfy it accepts app passwords.
type AppPasswords interface {
	// UseAppPassword reports whether the mailbox has an app password with
	// that hash (AppPasswordHash) for protocol, and records its use from
	// the client address when it has.
	UseAppPassword(ctx context.Context, mailboxID int64, hash []byte, protocol, from string) (bool, error)
}

var _ AppPasswords = (*store.Store)(nil)

// appAlphabet is base32's, lower case: no 0/O or 1/l to misread.
const appAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// appGroups of appGroupLen letters make an app password: 24 letters of 5
// bits, 120 random bits, written with dashes ("abcdef-ghijkl-...").
const appGroups, appGroupLen = 4, 6

// NewAppPassword returns a new random app password.
func NewAppPassword() string {
	var b strings.Builder
	for i := range appGroups * appGroupLen {
		if i > 0 && i%appGroupLen == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(appAlphabet[randIndex(len(appAlphabet))])
	}
	return b.String()
}

func randIndex(n int) int {
	var x [1]byte
	rand.Read(x[:])
	return int(x[0]) % n // n is 32: no bias
}

// AppPasswordHash returns the SHA-256 an app password is stored and found
// by, and whether s has the shape of one at all. Dashes, spaces and case
// are ignored, as a user may copy it either way. A fast hash is enough:
// the secret is 120 random bits, not a word a person chose.
func AppPasswordHash(s string) ([]byte, bool) {
	s = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(s))
	if len(s) != appGroups*appGroupLen || strings.Trim(s, appAlphabet) != "" {
		return nil, false
	}
	h := sha256.Sum256([]byte(s))
	return h[:], true
}

// checkPassword decides whether req's password opens cred: an app
// password of the mailbox for req's protocol (mail protocols only, never
// the panel), or the mailbox password, except on a mail protocol when the
// owner has a second factor (then app passwords only: a stolen mailbox
// password must not bypass it). viaApp says which matched; err is a
// failure of the database.
func (a *Authenticator) checkPassword(ctx context.Context, log *slog.Logger, cred store.Credential, req LoginRequest) (ok, viaApp bool, err error) {
	if ap, can := a.creds.(AppPasswords); can && req.Protocol != ProtoWeb {
		if h, shaped := AppPasswordHash(req.Password); shaped {
			from := ""
			if req.RemoteIP.IsValid() {
				from = req.RemoteIP.String()
			}
			ok, err := ap.UseAppPassword(ctx, cred.MailboxID, h, req.Protocol, from)
			if err != nil {
				log.Error("login: check app password", "user", cred.Address, "err", err)
				return false, false, fmt.Errorf("auth: app password of %q: %w", cred.Address, err)
			}
			if ok {
				return true, true, nil
			}
		}
	}
	ok, verr := Verify(cred.Password, req.Password)
	if verr != nil {
		log.Warn("login: stored password unusable", "user", cred.Address, "err", verr)
	}
	if ok && cred.SecondFactor && req.Protocol != ProtoWeb {
		log.Info("login: mailbox password refused on a mail protocol: second factor on, app passwords only", "user", cred.Address)
		return false, false, nil
	}
	return ok, false, nil
}
