package imapd

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"unicode/utf8"

	"mailhost/imapwire"
	"mailhost/maildir"
	"mailhost/store"
)

const delim = '/'

var (
	errNoSuchFolder = imapErr("NO", "NONEXISTENT", "No such mailbox")
	errTryCreate    = imapErr("NO", "TRYCREATE", "No such mailbox")
	errOverQuota    = imapErr("NO", "OVERQUOTA", "Quota exceeded (mailbox is full)")
	errReadOnly     = imapErr("NO", "READ-ONLY", "Mailbox is read-only (EXAMINE)")
	errBadName      = imapErr("NO", "CANNOT", "Invalid mailbox name: not modified UTF-7")
)

// canonName writes a first level "INBOX" in upper case, as DirName does on
// disk, so "inbox/x" and "INBOX/x" are one folder.
func canonName(name string) string {
	first, rest, ok := strings.Cut(name, string(delim))
	if strings.EqualFold(first, "INBOX") {
		if ok {
			return "INBOX" + string(delim) + rest
		}
		return "INBOX"
	}
	return name
}

// checkName refuses names the Maildir cannot hold.
func checkName(name string) error {
	if _, err := maildir.DirName(name, delim); err != nil {
		var ne *maildir.NameError
		if errors.As(err, &ne) {
			return imapErr("NO", "CANNOT", "Invalid mailbox name: "+ne.Reason)
		}
		return imapErr("NO", "CANNOT", "Invalid mailbox name")
	}
	return nil
}

// mailboxName reads a mailbox name as the client wrote it: UTF-8 for a
// session that enabled UTF8=ACCEPT or IMAP4rev2, else modified UTF-7
// (RFC 3501 5.1.3), whose errors are answered NO.
func (s *session) mailboxName(raw string) (string, error) {
	if s.utf8 || s.rev2 || !isASCII(raw) {
		// 8-bit bytes cannot be modified UTF-7: a client that writes
		// UTF-8 without ENABLE is taken at its word.
		if !utf8.ValidString(raw) {
			return "", errBadName
		}
		return raw, nil
	}
	name, err := imapwire.DecodeMailbox(raw)
	if err != nil {
		return "", errBadName
	}
	return name, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (s *session) folder(name string) (store.IMAPFolder, error) {
	f, err := s.srv.opts.Backend.IMAPFolder(s.ctx, s.acct.MailboxID, canonName(name))
	if errors.Is(err, store.ErrNotFound) {
		return f, errNoSuchFolder
	}
	if err != nil {
		return f, s.internal("folder", err)
	}
	return f, nil
}

func cmdCreate(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(imapwire.Create)
	name, err := s.mailboxName(a.Mailbox)
	if err != nil {
		return err
	}
	name = canonName(strings.TrimSuffix(name, string(delim))) // RFC 3501 6.3.3: a trailing separator
	if name == "INBOX" {
		return imapErr("NO", "ALREADYEXISTS", "INBOX always exists")
	}
	if err := checkName(name); err != nil {
		return err
	}
	use := ""
	if len(a.SpecialUse) > 0 {
		if len(a.SpecialUse) > 1 {
			return imapErr("NO", "USEATTR", "Only one special-use attribute per mailbox")
		}
		use = specialUse(a.SpecialUse[0])
		if use == "" {
			return imapErr("NO", "USEATTR", "Unsupported special-use attribute")
		}
	}
	if _, err := s.srv.opts.Backend.IMAPFolder(s.ctx, s.acct.MailboxID, name); err == nil {
		return imapErr("NO", "ALREADYEXISTS", "Mailbox already exists")
	}
	madeDir := true
	if err := s.mbox.CreateFolder(name); errors.Is(err, fs.ErrExist) {
		madeDir = false // a directory without a row (made by another program): adopt it
	} else if err != nil {
		return s.internal("create folder", err)
	}
	_, err = s.srv.opts.Backend.CreateIMAPFolder(s.ctx, s.acct.MailboxID, name, use)
	if err != nil {
		if madeDir {
			s.mbox.DeleteFolder(name)
		}
		if errors.Is(err, store.ErrConflict) {
			return imapErr("NO", "ALREADYEXISTS", "Mailbox already exists")
		}
		return s.internal("create folder", err)
	}
	return nil
}

// specialUse returns the canonical spelling of an RFC 6154 attribute the
// index accepts, or "".
func specialUse(attr string) string {
	for _, a := range []string{`\All`, `\Archive`, `\Drafts`, `\Flagged`, `\Junk`, `\Sent`, `\Trash`} {
		if strings.EqualFold(a, attr) {
			return a
		}
	}
	return ""
}

func cmdDelete(s *session, cmd *imapwire.Command) error {
	name, err := s.mailboxName(cmd.Args.(string))
	if err != nil {
		return err
	}
	name = canonName(name)
	if name == "INBOX" {
		return imapErr("NO", "CANNOT", "INBOX cannot be deleted")
	}
	if _, err := s.folder(name); err != nil {
		return err
	}
	id, err := s.srv.opts.Backend.DeleteIMAPFolder(s.ctx, s.acct.MailboxID, name)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSuchFolder
	}
	if err != nil {
		return s.internal("delete folder", err)
	}
	// The row is gone and the deletion journaled: the directory goes now,
	// or, after a crash, at the next reconciliation (never adopted back).
	switch err := s.mbox.DeleteFolder(name); {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		s.logger().Warn("imap: delete folder directory", "folder", name, "err", err)
	default:
		if err := s.srv.opts.Backend.FinishFolderDelete(s.ctx, s.acct.MailboxID, name); err != nil {
			s.logger().Warn("imap: finish folder delete", "folder", name, "err", err)
		}
	}
	s.srv.opts.Notices.Notify(id)
	return nil
}

func cmdRename(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(imapwire.Rename)
	oldName, err := s.mailboxName(a.From)
	if err != nil {
		return err
	}
	newName, err := s.mailboxName(a.To)
	if err != nil {
		return err
	}
	oldName, newName = canonName(oldName), canonName(strings.TrimSuffix(newName, string(delim)))
	if err := checkName(newName); err != nil {
		return err
	}
	if newName == "INBOX" {
		return imapErr("NO", "ALREADYEXISTS", "INBOX already exists")
	}
	if _, err := s.srv.opts.Backend.IMAPFolder(s.ctx, s.acct.MailboxID, newName); err == nil {
		return imapErr("NO", "ALREADYEXISTS", "Target mailbox already exists")
	}
	b := s.srv.opts.Backend
	if oldName == "INBOX" { // RFC 3501 6.3.5: the messages move, INBOX stays
		inbox, err := s.folder("INBOX")
		if err != nil {
			return err
		}
		if err := s.mbox.RenameFolder("INBOX", newName); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return imapErr("NO", "ALREADYEXISTS", "Target mailbox already exists")
			}
			return s.internal("rename INBOX", err)
		}
		if err := b.RenameIMAPInbox(s.ctx, s.acct.MailboxID, newName); err != nil {
			return s.internal("rename INBOX", err)
		}
		s.srv.opts.Notices.Notify(inbox.ID)
		return nil
	}
	if strings.HasPrefix(newName, oldName+string(delim)) {
		return imapErr("NO", "CANNOT", "Cannot rename a mailbox below itself")
	}
	err = s.mbox.RenameFolder(oldName, newName)
	switch {
	case errors.Is(err, fs.ErrExist):
		return imapErr("NO", "ALREADYEXISTS", "Target mailbox already exists")
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		var ne *maildir.NameError
		if errors.As(err, &ne) {
			return imapErr("NO", "CANNOT", ne.Reason)
		}
		return s.internal("rename folder", err)
	}
	dirMoved := err == nil
	err = b.RenameIMAPFolder(s.ctx, s.acct.MailboxID, oldName, newName)
	if err != nil {
		if dirMoved {
			s.mbox.RenameFolder(newName, oldName) // best effort undo
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			return errNoSuchFolder
		case errors.Is(err, store.ErrConflict):
			return imapErr("NO", "ALREADYEXISTS", "Target mailbox already exists")
		}
		return s.internal("rename folder", err)
	}
	if s.sel != nil && (s.sel.folder.Name == oldName || strings.HasPrefix(s.sel.folder.Name, oldName+string(delim))) {
		s.sel.folder.Name = newName + s.sel.folder.Name[len(oldName):]
		if d, err := s.mbox.Folder(s.sel.folder.Name); err == nil {
			s.sel.dir = d
		}
	}
	return nil
}

func cmdSubscribe(s *session, cmd *imapwire.Command) error {
	name, err := s.mailboxName(cmd.Args.(string))
	if err != nil {
		return err
	}
	err = s.srv.opts.Backend.SetIMAPSubscribed(s.ctx, s.acct.MailboxID, canonName(name), cmd.Name == "SUBSCRIBE")
	if errors.Is(err, store.ErrNotFound) {
		return errNoSuchFolder
	}
	if err != nil {
		return s.internal("subscribe", err)
	}
	return nil
}

func cmdStatus(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(imapwire.Status)
	name, err := s.mailboxName(a.Mailbox)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(a.Items, isCountItem) {
		// The folder and its counts in one round trip.
		f, st, err := s.srv.opts.Backend.IMAPFolderStatus(s.ctx, s.acct.MailboxID, canonName(name))
		if errors.Is(err, store.ErrNotFound) {
			return errNoSuchFolder
		}
		if err != nil {
			return s.internal("folder", err)
		}
		return s.writeStatus(f, &st, a.Items)
	}
	f, err := s.folder(name)
	if err != nil {
		return err
	}
	return s.status(f, a.Items)
}

// isCountItem reports whether a STATUS item counts the folder's messages.
func isCountItem(item string) bool {
	switch item {
	case "MESSAGES", "UNSEEN", "DELETED", "SIZE", "RECENT":
		return true
	}
	return false
}

// status writes the STATUS response of f.
func (s *session) status(f store.IMAPFolder, items []string) error {
	return s.writeStatus(f, nil, items)
}

// writeStatus writes the STATUS response of f, with its counts when known
// (nil: read when an item needs them).
func (s *session) writeStatus(f store.IMAPFolder, counts *store.IMAPFolderStatus, items []string) error {
	var st store.IMAPFolderStatus
	need := false
	for _, it := range items {
		switch it {
		case "MESSAGES", "UNSEEN", "DELETED", "SIZE", "RECENT":
			need = true
		case "HIGHESTMODSEQ":
			s.condstore = true // a CONDSTORE enabling command (RFC 7162 3.1)
		case "UIDNEXT", "UIDVALIDITY", "APPENDLIMIT", "MAILBOXID":
		default:
			return imapErr("BAD", "", "Unknown STATUS item "+it)
		}
	}
	if need && counts != nil {
		st = *counts
	} else if need {
		var err error
		if st, err = s.srv.opts.Backend.IMAPStatus(s.ctx, f.ID); err != nil {
			return s.internal("status", err)
		}
	}
	e := &s.enc
	e.Raw("* STATUS ").Mailbox(f.Name).Raw(" (")
	for i, it := range items {
		if i > 0 {
			e.SP()
		}
		e.Raw(it).SP()
		switch it {
		case "MESSAGES":
			e.Number(uint64(st.Messages))
		case "UNSEEN":
			e.Number(uint64(st.Unseen))
		case "DELETED":
			e.Number(uint64(st.Deleted))
		case "SIZE":
			e.Number(uint64(st.Size))
		case "RECENT":
			e.Number(uint64(st.Recent))
		case "UIDNEXT":
			e.Number(uint64(f.UIDNext))
		case "UIDVALIDITY":
			e.Number(uint64(f.UIDValidity))
		case "APPENDLIMIT":
			e.Number(uint64(s.srv.opts.AppendLimit))
		case "HIGHESTMODSEQ":
			e.Number(uint64(f.HighestModSeq))
		case "MAILBOXID":
			objectID(e, f.ObjectID)
		}
	}
	e.Raw(")").CRLF()
	return nil
}

func cmdList(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(*imapwire.ListArgs)
	selSubscribed := imapwire.Has(a.Select, "SUBSCRIBED") || a.LSUB
	selSpecial := imapwire.Has(a.Select, "SPECIAL-USE")
	recursive := imapwire.Has(a.Select, "RECURSIVEMATCH")
	retSubscribed := imapwire.Has(a.Return, "SUBSCRIBED")
	retStatus := imapwire.Has(a.Return, "STATUS")
	verb := "LIST"
	if a.LSUB {
		verb = "LSUB"
	}
	ref, err := s.mailboxName(a.Ref)
	if err != nil {
		ref = a.Ref
	}
	patterns := make([]string, 0, len(a.Patterns))
	for _, p := range a.Patterns {
		if n, err := s.mailboxName(p); err == nil {
			p = n
		}
		patterns = append(patterns, p)
	}
	if len(patterns) == 1 && patterns[0] == "" && a.Select == nil {
		// RFC 3501 6.3.8: the hierarchy delimiter and root
		s.enc.Raw("* ").Raw(verb).Raw(` (\Noselect) "/" ""`).CRLF()
		return nil
	}
	folders, err := s.srv.opts.Backend.IMAPFolders(s.ctx, s.acct.MailboxID)
	if err != nil {
		return s.internal("list", err)
	}
	byName := make(map[string]*store.IMAPFolder, len(folders))
	for i := range folders {
		byName[folders[i].Name] = &folders[i]
	}
	// Every name with its missing parents ("A" of "A/B" when only "A/B" exists).
	names := make([]string, 0, len(folders))
	seen := make(map[string]bool, len(folders))
	for _, f := range folders {
		names = append(names, f.Name)
		seen[f.Name] = true
	}
	for _, f := range folders {
		for p := f.Name; ; {
			i := strings.LastIndexByte(p, delim)
			if i <= 0 {
				break
			}
			p = p[:i]
			if !seen[p] {
				seen[p] = true
				names = append(names, p)
			}
		}
	}
	// Subscriptions are names apart from folders: a subscribed name whose
	// folder was deleted is listed \NonExistent (RFC 5258 3.4, 9051 6.3.9).
	subscribedNames, nonExistent, err := s.subscriptions(selSubscribed || retSubscribed, seen)
	if err != nil {
		return err
	}
	if selSubscribed {
		for n := range nonExistent {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if a == "INBOX" || b == "INBOX" {
			return boolCmp(b == "INBOX", a == "INBOX")
		}
		return strings.Compare(a, b)
	})
	hasChildren := func(name string) (children, subscribedChild bool) {
		for _, f := range folders {
			if strings.HasPrefix(f.Name, name+string(delim)) {
				children = true
				subscribedChild = subscribedChild || subscribedNames[f.Name]
			}
		}
		return
	}
	e := &s.enc
	for _, name := range names {
		matched := false
		for _, p := range patterns {
			if matchList(name, ref, p) {
				matched = true
				break
			}
		}
		if !matched {
			continue
		}
		f := byName[name]
		children, subChild := hasChildren(name)
		subscribed := subscribedNames[name]
		childInfo := false
		if selSubscribed && !subscribed {
			if !(recursive && subChild) {
				continue
			}
			childInfo = true
		}
		if selSpecial && (f == nil || f.SpecialUse == "") {
			continue
		}
		var attrs []string
		if nonExistent[name] {
			if a.LSUB {
				attrs = []string{`\Noselect`}
			} else {
				attrs = []string{`\Subscribed`, `\NonExistent`}
			}
			e.Raw("* ").Raw(verb).SP().Flags(attrs).Raw(` "/" `).Mailbox(name).CRLF()
			continue
		}
		if f == nil {
			attrs = append(attrs, `\Noselect`)
		}
		if subscribed && (retSubscribed || selSubscribed) && !a.LSUB {
			attrs = append(attrs, `\Subscribed`)
		}
		if children {
			attrs = append(attrs, `\HasChildren`)
		} else {
			attrs = append(attrs, `\HasNoChildren`)
		}
		if f != nil && f.SpecialUse != "" {
			attrs = append(attrs, f.SpecialUse)
		}
		e.Raw("* ").Raw(verb).SP().Flags(attrs).Raw(` "/" `).Mailbox(name)
		if childInfo && !a.LSUB {
			e.Raw(` ("CHILDINFO" ("SUBSCRIBED"))`)
		}
		e.CRLF()
		if retStatus && f != nil {
			if err := s.status(*f, a.Status); err != nil {
				return err
			}
		}
	}
	return nil
}

// subscriptions returns the subscribed names (when want) and among them
// those that are no folder nor a folder's parent (not in seen).
func (s *session) subscriptions(want bool, seen map[string]bool) (subscribed, nonExistent map[string]bool, err error) {
	if !want {
		return nil, nil, nil
	}
	names, err := s.srv.opts.Backend.IMAPSubscriptions(s.ctx, s.acct.MailboxID)
	if err != nil {
		return nil, nil, s.internal("list: subscriptions", err)
	}
	subscribed = make(map[string]bool, len(names))
	nonExistent = map[string]bool{}
	for _, n := range names {
		subscribed[n] = true
		if !seen[n] {
			nonExistent[n] = true
		}
	}
	return subscribed, nonExistent, nil
}

// matchList reports whether name matches the LIST pattern under ref
// (RFC 3501 6.3.8): '*' matches anything, '%' anything but the
// delimiter; INBOX matches case-insensitively.
func matchList(name, ref, pattern string) bool {
	if strings.HasPrefix(pattern, string(delim)) || ref == "" {
		ref = ""
	} else if !strings.HasSuffix(ref, string(delim)) && ref != "" {
		ref += string(delim)
	}
	pattern = ref + pattern
	if strings.EqualFold(name, "INBOX") {
		return match("INBOX", canonName(pattern))
	}
	return match(name, canonName(pattern))
}

func match(name, pattern string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*', '%':
			wild := pattern[0]
			rest := pattern[1:]
			for i := 0; i <= len(name); i++ {
				if match(name[i:], rest) {
					return true
				}
				if i < len(name) && wild == '%' && name[i] == delim {
					return false
				}
			}
			return false
		default:
			if len(name) == 0 || name[0] != pattern[0] {
				return false
			}
			name, pattern = name[1:], pattern[1:]
		}
	}
	return name == ""
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// flagRecent is the session flag of RFC 3501 2.3.2 (gone from IMAP4rev2).
const flagRecent = `\Recent`
