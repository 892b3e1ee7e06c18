package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"mailhost/address"
)

// ErrDisabled is returned by Resolve when the address exists but its
// mailbox, alias or domain is disabled.
var ErrDisabled = errors.New("store: disabled")

// Relocated is returned (wrapped in *RelocatedError) by Resolve for an
// address listed in the relocated table (Postfix relocated(5)).
type RelocatedError struct {
	Address    string
	NewAddress string
}

func (e *RelocatedError) Error() string {
	return fmt.Sprintf("store: %s has moved to %s", e.Address, e.NewAddress)
}

// maxAliasDepth bounds alias recursion (Postfix virtual_alias_recursion_limit).
const maxAliasDepth = 20

// maxExpansion bounds the addresses one recipient may expand to
// (Postfix virtual_alias_expansion_limit).
const maxExpansion = 1000

// Resolution is where a recipient address leads: local mailboxes and remote
// addresses, de-duplicated.
type Resolution struct {
	// Address is the address asked for, as given (normalised).
	Address string
	// Foreign is set when the domain is neither hosted nor a relay domain:
	// delivering there is relaying, which the caller must authorise.
	Foreign bool
	// Local are the mailboxes that get a copy, one entry per mailbox.
	Local []LocalTarget
	// Remote are the addresses to queue for the outbound workers.
	Remote []RemoteTarget
	// Skipped lists alias destinations that led nowhere (unknown or
	// disabled); they are dropped, as logged by the caller.
	Skipped []string
}

// LocalTarget is one hosted mailbox that receives a copy.
type LocalTarget struct {
	MailboxID  int64
	Address    string // the mailbox address: Delivered-To
	Domain     string
	Maildir    string // relative to the Maildir root: "<domain>/<local>/"
	QuotaBytes int64  // 0 = unlimited
	UsedBytes  int64
	// Folder is the IMAP name of the folder to file into: "INBOX", or the
	// existing folder named by the address extension (alice+news@ -> "news").
	Folder   string
	FolderID int64 // 0 when no folders row exists yet
	Vacation bool  // an active vacation reply is set now
	// Sieve: the mailbox has an active Sieve script, or its domain an
	// active before or after script (the delivery agent runs scripts
	// only then).
	Sieve bool
	// SieveChain is what SieveChain returns, read in the resolution's
	// query: the delivery agent needs no query of its own to find the
	// scripts, and their content only on a miss of its compiled-script
	// cache (by id and version). Empty, not nil, when Resolve found no
	// script; nil when the target was not made by Resolve (the agent then
	// asks SieveChain).
	SieveChain []SieveRef
	// Junk is the mailbox's folder with the \Junk special use (RFC
	// 6154), where InJunk files a copy; "" when it has none.
	Junk   string
	JunkID int64
}

// InJunk returns t filing into the mailbox's \Junk folder: what the MTA
// does with a copy it delivers but distrusts (DMARC p=quarantine, a spam
// verdict). A mailbox without a \Junk folder keeps its folder.
func (t LocalTarget) InJunk() LocalTarget {
	if t.Junk != "" {
		t.Folder, t.FolderID = t.Junk, t.JunkID
	}
	return t
}

// RemoteTarget is an address to deliver through the queue.
type RemoteTarget struct {
	Address string
	Domain  string
	NextHop string // relay_to of a relay domain; "" = MX lookup
	// Relay is set for an address of a relay domain or a foreign domain
	// named directly; unset for destinations reached through aliases or
	// forwarding.
	Relay bool
}

// resolveStep is what one query tells about one address.
type resolveStep struct {
	DomainID     *int64
	DomainName   *string
	DomainKind   *string
	RelayTo      *string
	DomainActive *bool
	RelocatedTo  *string
	// The mailbox matched (full address, else the address without extension).
	MailboxID     *int64
	MailboxAddr   *string
	Maildir       *string
	MailboxActive *bool
	QuotaBytes    *int64
	UsedBytes     *int64
	Vacation      *bool
	FwdDests      []string
	FwdKeepCopy   *bool
	FwdActive     *bool
	InboxID       *int64
	ExtFolder     *string
	ExtFolderID   *int64
	JunkFolder    *string
	JunkFolderID  *int64
	// The alias matched, when no mailbox did.
	AliasAddr   *string
	AliasDests  []string
	AliasActive *bool

	// The mailbox's Sieve chain (SieveChain's order), as parallel arrays.
	SieveIDs       []int64
	SieveVersions  []int64
	SievePositions []string
	SieveNames     []string
}

// resolveSQL looks an address up in one round trip: its domain (directly
// or through an alias domain), a relocated entry (address, address without
// extension, then "@domain", as Postfix relocated(5)), the mailbox for the full
// address or for the address without its extension, its forwarding, its
// INBOX and extension folder rows, its Sieve chain (ids and versions of
// the active scripts, SieveChain's order), and otherwise the best alias: full
// address, then without extension, then the catch-all "@domain".
// $1 full local part, $2 domain, $3 local part without extension ("" when
// none), $4 extension.
// The domain is looked up by name and by alias name in two branches, each
// an index lookup: one condition ORing both across a join read the whole
// domains table for every address.
const resolveSQL = `
WITH d AS (
	SELECT id, name, kind, relay_to, active FROM (
		SELECT dm.id, dm.name, dm.kind, dm.relay_to, dm.active, 0 AS o
		FROM domains dm WHERE dm.name = $2
		UNION ALL
		SELECT dm.id, dm.name, dm.kind, dm.relay_to, dm.active AND ad.active, 1
		FROM alias_domains ad JOIN domains dm ON dm.id = ad.target_domain_id
		WHERE ad.alias_domain = $2
	) found
	ORDER BY o
	LIMIT 1
)
SELECT d.id, d.name, d.kind, d.relay_to, d.active,
       r.new_address,
       m.id, m.address, m.maildir, m.active, m.quota_bytes, m.used_bytes,
       (v.mailbox_id IS NOT NULL),
       sv.ids, sv.versions, sv.positions, sv.names,
       fw.destinations, fw.keep_copy, fw.active,
       fi.id, fe.name, fe.id, fj.name, fj.id,
       a.address, a.destinations, a.active
FROM (SELECT 1) one
LEFT JOIN d ON true
LEFT JOIN LATERAL (
	SELECT new_address FROM relocated
	WHERE address IN ($1 || '@' || $2, $1 || '@' || d.name, $3 || '@' || $2, $3 || '@' || d.name,
	                  '@' || $2, '@' || d.name)
	ORDER BY address = $1 || '@' || $2 DESC, address = $1 || '@' || d.name DESC, address = $3 || '@' || $2 DESC,
	         address LIKE '@%' ASC
	LIMIT 1
) r ON true
LEFT JOIN LATERAL (
	SELECT * FROM mailboxes
	WHERE domain_id = d.id AND local_part IN ($1, $3)
	ORDER BY local_part = $1 DESC
	LIMIT 1
) m ON true
LEFT JOIN vacations v ON v.mailbox_id = m.id AND v.active
	AND (v.active_from IS NULL OR v.active_from <= now())
	AND (v.active_until IS NULL OR v.active_until > now())
LEFT JOIN LATERAL (
	SELECT array_agg(c.id ORDER BY c.o, c.name) AS ids, array_agg(c.version ORDER BY c.o, c.name) AS versions,
	       array_agg(c.position ORDER BY c.o, c.name) AS positions, array_agg(c.name ORDER BY c.o, c.name) AS names
	FROM (
		SELECT id, version, position, name, 1 AS o FROM sieve_scripts WHERE mailbox_id = m.id AND active
		UNION ALL
		SELECT id, version, position, name, CASE position WHEN 'before' THEN 0 ELSE 2 END FROM sieve_scripts
		WHERE m.id IS NOT NULL AND domain_id = d.id AND position IN ('before', 'after') AND active
	) c
) sv ON true
LEFT JOIN forwardings fw ON fw.mailbox_id = m.id
LEFT JOIN folders fi ON fi.mailbox_id = m.id AND fi.name = 'INBOX'
LEFT JOIN LATERAL (
	SELECT id, name FROM folders
	WHERE mailbox_id = m.id AND $4 <> '' AND m.local_part <> $1 AND lower(name) = lower($4) AND name <> 'INBOX'
	ORDER BY name = $4 DESC
	LIMIT 1
) fe ON true
LEFT JOIN LATERAL (
	SELECT id, name FROM folders
	WHERE mailbox_id = m.id AND special_use = '\Junk'
	ORDER BY id
	LIMIT 1
) fj ON true
LEFT JOIN LATERAL (
	SELECT address, destinations, active FROM aliases
	WHERE (m.id IS NULL OR m.local_part <> $1) AND domain_id = d.id
	  AND address IN ($1 || '@' || d.name, $3 || '@' || d.name, '@' || d.name)
	ORDER BY address = $1 || '@' || d.name DESC, address = $3 || '@' || d.name DESC
	LIMIT 1
) a ON true`

// Resolve expands addr (normalised local@domain) into local mailboxes and
// remote addresses: alias domain rewrite, recipient delimiter (any of the
// characters in delims splits user from extension), mailboxes and their
// forwarding, aliases and the catch-all (lowest precedence), recursively,
// loop-safe and de-duplicated. It is the one resolver shared by the SMTP
// RCPT checks and delivery. Errors: ErrNotFound (no such user in a hosted
// domain), ErrDisabled, *RelocatedError; a foreign domain is not an error
// but a Resolution with Foreign set.
func (s *Store) Resolve(ctx context.Context, addr, delims string) (Resolution, error) {
	res := Resolution{Address: addr}
	r := resolver{s: s, ctx: ctx, delims: delims, res: &res,
		seenAddr: map[string]bool{}, seenBox: map[int64]bool{}, seenRemote: map[string]bool{}}
	if err := r.expand(addr, 0, true); err != nil {
		return Resolution{}, err
	}
	if len(res.Local) == 0 && len(res.Remote) == 0 && !res.Foreign {
		return Resolution{}, ErrNotFound
	}
	return res, nil
}

type resolver struct {
	s          *Store
	ctx        context.Context
	delims     string
	res        *Resolution
	seenAddr   map[string]bool
	seenBox    map[int64]bool
	seenRemote map[string]bool
	count      int
}

// splitExtension splits local at the first delimiter character: "alice+news"
// -> "alice", "news". A leading delimiter does not split.
func splitExtension(local, delims string) (base, ext string) {
	if delims == "" {
		return "", ""
	}
	i := strings.IndexAny(local, delims)
	if i <= 0 {
		return "", ""
	}
	return local[:i], local[i+1:]
}

// expand resolves one address; top is set for the address asked for, where
// the errors are reported; below it, dead ends are skipped.
func (r *resolver) expand(addr string, depth int, top bool) error {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if r.seenAddr[addr] {
		return nil
	}
	r.seenAddr[addr] = true
	if r.count++; r.count > maxExpansion || depth > maxAliasDepth {
		r.res.Skipped = append(r.res.Skipped, addr+" (alias expansion limit)")
		return nil
	}
	local, domain := address.Split(addr)
	if domain == "" || local == "" {
		return r.dead(addr, top, ErrNotFound)
	}
	base, ext := splitExtension(local, r.delims)
	var st resolveStep
	b := &pgx.Batch{}
	queueGenericPlans(b)
	b.Queue(resolveSQL, local, domain, base, ext).QueryRow(func(row pgx.Row) error {
		return row.Scan(
			&st.DomainID, &st.DomainName, &st.DomainKind, &st.RelayTo, &st.DomainActive,
			&st.RelocatedTo,
			&st.MailboxID, &st.MailboxAddr, &st.Maildir, &st.MailboxActive, &st.QuotaBytes, &st.UsedBytes,
			&st.Vacation, &st.SieveIDs, &st.SieveVersions, &st.SievePositions, &st.SieveNames,
			&st.FwdDests, &st.FwdKeepCopy, &st.FwdActive,
			&st.InboxID, &st.ExtFolder, &st.ExtFolderID, &st.JunkFolder, &st.JunkFolderID,
			&st.AliasAddr, &st.AliasDests, &st.AliasActive)
	})
	if err := r.s.pool.SendBatch(r.ctx, b).Close(); err != nil {
		return fmt.Errorf("store: resolve %q: %w", addr, err)
	}
	if st.RelocatedTo != nil {
		if top {
			return &RelocatedError{Address: addr, NewAddress: *st.RelocatedTo}
		}
		r.res.Skipped = append(r.res.Skipped, addr+" (relocated)")
		return nil
	}
	switch {
	case st.DomainID == nil: // not hosted, not relayed here
		if top {
			r.res.Foreign = true
		}
		r.remote(RemoteTarget{Address: addr, Domain: domain, Relay: top})
		return nil
	case !*st.DomainActive:
		return r.dead(addr, top, ErrDisabled)
	case *st.DomainKind == "relay":
		// A relay domain has no mailboxes here: every address is accepted
		// and queued for the next hop (Postfix relay_domains without
		// relay_recipient_maps).
		r.remote(RemoteTarget{Address: addr, Domain: domain, NextHop: *st.RelayTo, Relay: top})
		return nil
	}
	// An alias for the full address beats a mailbox found without the
	// extension ("alice+news@" alias over mailbox "alice@").
	if st.MailboxID != nil && st.AliasAddr != nil && *st.AliasAddr == local+"@"+*st.DomainName {
		st.MailboxID = nil
	}
	if st.MailboxID != nil {
		if !*st.MailboxActive {
			return r.dead(addr, top, ErrDisabled)
		}
		keep := true
		if st.FwdActive != nil && *st.FwdActive {
			keep = *st.FwdKeepCopy
			for _, d := range st.FwdDests {
				if strings.EqualFold(d, *st.MailboxAddr) {
					keep = true
					continue
				}
				if err := r.expand(d, depth+1, false); err != nil {
					return err
				}
			}
		}
		if keep && !r.seenBox[*st.MailboxID] {
			r.seenBox[*st.MailboxID] = true
			t := LocalTarget{
				MailboxID: *st.MailboxID, Address: *st.MailboxAddr, Domain: *st.DomainName,
				Maildir: *st.Maildir, QuotaBytes: *st.QuotaBytes, UsedBytes: *st.UsedBytes,
				Folder: "INBOX", Vacation: *st.Vacation, Sieve: len(st.SieveIDs) > 0,
			}
			// Not nil when empty: "no scripts", which mda need not read
			// again (a vacation alone runs a chain too).
			t.SieveChain = make([]SieveRef, 0, len(st.SieveIDs))
			for i, id := range st.SieveIDs {
				t.SieveChain = append(t.SieveChain, SieveRef{ID: id, Version: st.SieveVersions[i],
					Position: st.SievePositions[i], Name: st.SieveNames[i]})
			}
			if st.InboxID != nil {
				t.FolderID = *st.InboxID
			}
			if st.ExtFolder != nil {
				t.Folder, t.FolderID = *st.ExtFolder, *st.ExtFolderID
			}
			if st.JunkFolder != nil {
				t.Junk, t.JunkID = *st.JunkFolder, *st.JunkFolderID
			}
			r.res.Local = append(r.res.Local, t)
		}
		return nil
	}
	if st.AliasAddr != nil {
		if !*st.AliasActive {
			return r.dead(addr, top, ErrDisabled)
		}
		for _, d := range st.AliasDests {
			if err := r.expand(d, depth+1, false); err != nil {
				return err
			}
		}
		return nil
	}
	return r.dead(addr, top, ErrNotFound)
}

func (r *resolver) dead(addr string, top bool, err error) error {
	if top {
		return err
	}
	why := "unknown"
	if errors.Is(err, ErrDisabled) {
		why = "disabled"
	}
	r.res.Skipped = append(r.res.Skipped, addr+" ("+why+")")
	return nil
}

func (r *resolver) remote(t RemoteTarget) {
	if r.seenRemote[t.Address] {
		return
	}
	r.seenRemote[t.Address] = true
	r.res.Remote = append(r.res.Remote, t)
}
