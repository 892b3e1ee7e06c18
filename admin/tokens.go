package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"mailhost/auth"
	"mailhost/store"
)

// TokenPrefix starts every API token, so that leaked tokens are easy to
// recognise (and to scan for).
const TokenPrefix = "mh_"

// TokenInput is the body of a token create.
type TokenInput struct {
	Name  *string `json:"name"`
	Admin *string `json:"admin"` // defaults to the caller; only a super-admin may name another
}

// TokenView is a token as the faces show it; Token (the secret) is set only
// in the answer to its creation.
type TokenView struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	Admin        string     `json:"admin"`
	Prefix       string     `json:"prefix"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	LastUsedFrom *string    `json:"last_used_from"`
	RevokedAt    *time.Time `json:"revoked_at"`
	Token        string     `json:"token,omitempty"`
}

func tokenView(t store.Token) TokenView {
	return TokenView{ID: t.ID, Name: t.Name, Admin: t.Admin, Prefix: t.Prefix, CreatedAt: t.CreatedAt,
		LastUsedAt: t.LastUsedAt, LastUsedFrom: t.LastUsedFrom, RevokedAt: t.RevokedAt}
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// CreateToken makes a token for an admin (the caller's own by default) and
// returns it with its secret, shown this once; only its SHA-256 is stored.
func (s *Service) CreateToken(ctx context.Context, a Actor, in TokenInput) (TokenView, error) {
	var f fields
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		f.add("name", "is required")
	} else if len(*in.Name) > 100 {
		f.add("name", "is longer than 100 characters")
	}
	owner := a.Username
	if in.Admin != nil && *in.Admin != "" {
		owner = *in.Admin
	} else if a.AdminID == 0 {
		f.add("admin", "is required")
	}
	if err := f.err(); err != nil {
		return TokenView{}, err
	}
	var raw [32]byte
	rand.Read(raw[:])
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	var out store.Token
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		ad, err := s.adminFor(ctx, tx, a, owner)
		if err != nil {
			if !a.Superadmin && KindOf(err) == NotFound {
				return newErr(Forbidden, "only a super-admin may create tokens for another admin")
			}
			return notFoundField(storeNotFound(err), "admin", "is not an admin")
		}
		if !ad.Active {
			return invalid("admin", "is not active")
		}
		out, err = tx.InsertToken(ctx, ad.ID, strings.TrimSpace(*in.Name), secret[:len(TokenPrefix)+8], hashToken(secret))
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "create", "token", strconv.FormatInt(out.ID, 10), "", nil, tokenView(out))
	})
	if err != nil {
		return TokenView{}, err
	}
	v := tokenView(out)
	v.Token = secret
	return v, nil
}

// storeNotFound turns a NotFound *Error back into store.ErrNotFound.
func storeNotFound(err error) error {
	if KindOf(err) == NotFound {
		return store.ErrNotFound
	}
	return err
}

// Tokens lists tokens: a super-admin sees all, another admin its own.
func (s *Service) Tokens(ctx context.Context, a Actor, p ListParams) (List[TokenView], error) {
	var f fields
	if p.Limit < 0 || p.Limit > MaxLimit {
		f.add("limit", "must be from 1 to %d", MaxLimit)
	}
	after := int64(0)
	if p.Cursor != "" {
		k, err := store.DecodeCursor(p.Cursor)
		if err == nil {
			after, err = strconv.ParseInt(k, 10, 64)
		}
		if err != nil {
			f.add("cursor", "is not a cursor of this list")
		}
	}
	if err := f.err(); err != nil {
		return List[TokenView]{}, err
	}
	limit := p.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	filter := store.TokenFilter{After: after, Limit: limit + 1}
	if !a.Superadmin {
		filter.AdminID = a.AdminID
	}
	rows, err := s.st.Read().ListTokens(ctx, filter)
	if err != nil {
		return List[TokenView]{}, err
	}
	return finish(rows, limit, func(t store.Token) string { return strconv.FormatInt(t.ID, 10) }, tokenView), nil
}

// RevokeToken revokes a token: a super-admin any, another admin its own.
func (s *Service) RevokeToken(ctx context.Context, a Actor, id string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return newErr(NotFound, "no token %s", id)
	}
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		t, err := tx.TokenByID(ctx, n)
		if err == nil && !a.Superadmin && t.AdminID != a.AdminID {
			err = store.ErrNotFound
		}
		if err != nil {
			return notFound(err, "no token %s", id)
		}
		out, err := tx.RevokeToken(ctx, n)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "revoke", "token", id, "", tokenView(t), tokenView(out))
	})
}

// Authenticate returns the actor of a bearer token: its admin's rights.
// A token that is unknown, revoked or expired, or whose admin is inactive,
// is Unauthorized. Its use is recorded at most once a minute.
func (s *Service) Authenticate(ctx context.Context, token, remote string) (Actor, error) {
	// A token names no account: only the client address is throttled.
	at, err := s.reserve(ctx, remote, "")
	if err != nil {
		return Actor{}, err
	}
	defer at.Release()
	invalid := func(detail string) (Actor, error) {
		if err := at.FailAndWait(ctx); !errors.Is(err, auth.ErrInvalidCredentials) {
			return Actor{}, err
		}
		return Actor{}, newErr(Unauthorized, "%s", detail)
	}
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 200 {
		return invalid("invalid token")
	}
	tx := s.st.Read()
	t, ad, err := tx.TokenByHash(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return invalid("invalid token")
	}
	if err != nil {
		return Actor{}, err
	}
	now := s.opts.Now()
	if t.RevokedAt != nil || (t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)) || !ad.Active {
		return invalid("token revoked or expired, or its admin inactive")
	}
	at.Succeed(ctx)
	s.mu.Lock()
	last, ok := s.touched[t.ID]
	due := !ok || now.Sub(last) >= time.Minute
	if due {
		s.touched[t.ID] = now
	}
	s.mu.Unlock()
	if due {
		if err := tx.TouchToken(ctx, t.ID, remote); err != nil {
			s.log.Warn("record token use", "token_id", t.ID, "err", err)
		}
	}
	return Actor{Kind: "token", AdminID: ad.ID, Username: ad.Username, TokenID: t.ID,
		Superadmin: ad.Superadmin, DomainIDs: ad.DomainIDs, Remote: remote}, nil
}

// AuthenticateAdmin checks an admin's user name and password (for the web
// panel's login) and returns its actor. Unknown users, wrong passwords and
// inactive admins are one Unauthorized error. A hash in an old scheme is
// upgraded to the configured one.
func (s *Service) AuthenticateAdmin(ctx context.Context, username, password, remote string) (Actor, error) {
	fail := newErr(Unauthorized, "wrong user name or password")
	n, why := normUsername(username)
	if why != "" {
		return Actor{}, fail
	}
	at, err := s.reserve(ctx, remote, strings.TrimPrefix(auth.AccountKey(n), auth.AccountKeyPrefix))
	if err != nil {
		return Actor{}, err
	}
	defer at.Release() // a check that ran and did not end counts as failed
	failed := func() (Actor, error) {
		if err := at.FailAndWait(ctx); !errors.Is(err, auth.ErrInvalidCredentials) {
			return Actor{}, err
		}
		return Actor{}, fail
	}
	tx := s.st.Read()
	ad, err := tx.AdminByUsername(ctx, n)
	if errors.Is(err, store.ErrNotFound) {
		if err := at.Hash(ctx, func() { auth.Verify(dummyAdminHash, password) }); err != nil { //nolint:errcheck // spends the time of a real check
			return Actor{}, loginError(err)
		}
		return failed()
	}
	if err != nil {
		return Actor{}, err
	}
	var ok bool
	var verr error
	if err := at.Hash(ctx, func() { ok, verr = auth.Verify(ad.Password, password) }); err != nil {
		return Actor{}, loginError(err)
	}
	if verr != nil {
		s.log.Warn("admin password hash unreadable", "admin", ad.Username, "err", verr)
	}
	if !ok || !ad.Active {
		return failed()
	}
	at.Succeed(ctx)
	if r, can := s.opts.Hasher.(interface{ NeedsRehash(string) bool }); can && r.NeedsRehash(ad.Password) {
		if h, err := s.hash(password); err == nil {
			ad.Password = h
			if _, err := tx.UpdateAdmin(ctx, ad); err != nil {
				s.log.Warn("upgrade admin password hash", "admin", ad.Username, "err", err)
			}
		}
	}
	return Actor{Kind: "admin", AdminID: ad.ID, Username: ad.Username, Superadmin: ad.Superadmin,
		DomainIDs: ad.DomainIDs, Remote: remote}, nil
}
