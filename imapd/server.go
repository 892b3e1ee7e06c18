// Package imapd is the IMAP server (IMAP4rev1 and IMAP4rev2) on the
// protocol layer of package imapwire: folders and messages come from the
// index in PostgreSQL (store), bytes from the Maildir (maildir), logins from
// the shared Authenticator (auth). Sessions learn about changes made by
// others (delivery, other sessions, other nodes) from folder change notices
// and by comparing their snapshot with the index.
package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"mailhost/connlimit"
	"mailhost/connserve"
	"mailhost/maildir"
	"mailhost/sasl"
	"mailhost/store"
)

// Backend is what the IMAP server needs of the index. store.Store
// satisfies it.
type Backend interface {
	SyncBackend // condstore.go
	IMAPFolders(ctx context.Context, mailboxID int64) ([]store.IMAPFolder, error)
	IMAPFolder(ctx context.Context, mailboxID int64, name string) (store.IMAPFolder, error)
	IMAPFolderByID(ctx context.Context, id int64) (store.IMAPFolder, error)
	CreateIMAPFolder(ctx context.Context, mailboxID int64, name, specialUse string) (store.IMAPFolder, error)
	DeleteIMAPFolder(ctx context.Context, mailboxID int64, name string) (int64, error)
	RenameIMAPFolder(ctx context.Context, mailboxID int64, oldName, newName string) error
	RenameIMAPInbox(ctx context.Context, mailboxID int64, newName string) error
	SetIMAPSubscribed(ctx context.Context, mailboxID int64, name string, on bool) error
	IMAPStatus(ctx context.Context, folderID int64) (store.IMAPFolderStatus, error)
	IMAPMessageCount(ctx context.Context, folderID int64) (int, error)
	IMAPFolderStatus(ctx context.Context, mailboxID int64, name string) (store.IMAPFolder, store.IMAPFolderStatus, error)
	IMAPMailboxUsage(ctx context.Context, mailboxID int64) (quota, used int64, err error)

	IMAPUIDs(ctx context.Context, folderID int64) ([]uint32, error)
	IMAPMessages(ctx context.Context, folderID int64, uids []uint32) ([]store.IMAPMessage, error)
	IMAPFolderFlags(ctx context.Context, folderID int64) ([]store.IMAPMessageFlags, error)
	IMAPSelect(ctx context.Context, folderID int64) (store.IMAPSelection, error)
	IMAPChangedSince(ctx context.Context, folderID, modseq int64) ([]store.IMAPMessage, error)
	IMAPAppend(ctx context.Context, mailboxID, folderID int64, msgs []store.NewIMAPMessage) ([]uint32, uint32, error)
	IMAPStoreFlags(ctx context.Context, folderID int64, uids []uint32, op store.FlagOp, flags, keywords []string,
		rename func(oldName, key string, flags []string) string) ([]store.FlagChange, error)
	IMAPFlagsWouldChange(ctx context.Context, folderID int64, uids []uint32, op store.FlagOp,
		flags, keywords []string) (bool, error)
	IMAPExpunge(ctx context.Context, mailboxID, folderID int64, uids []uint32) ([]store.Expunged, error)
	IMAPMove(ctx context.Context, mailboxID, srcFolder, dstFolder int64, srcUIDs []uint32,
		msgs []store.NewIMAPMessage) ([]uint32, uint32, []store.Expunged, error)
	IntendAdds(ctx context.Context, folderID int64, node string, keys []string) error
	FinishFolderDelete(ctx context.Context, mailboxID int64, name string) error
}

// Files keeps a folder's files and index rows in agreement.
// *reconcile.Reconciler satisfies it.
type Files interface {
	// Adopt indexes files that appeared without the index and finishes
	// operations a crash interrupted.
	Adopt(ctx context.Context, mailboxID, folderID int64, dir maildir.Folder) (int, error)
	// Remove unlinks the files of rows a removal committed and ends their
	// journal rows.
	Remove(ctx context.Context, folderID int64, dir maildir.Folder, names []string) error
	// CancelAdds unlinks files linked for a MOVE or COPY that failed.
	CancelAdds(ctx context.Context, folderID int64, dir maildir.Folder, keys []string) error
}

var _ Backend = (*store.Store)(nil)

// Notices wakes sessions when a folder changes. *store.FolderListener
// satisfies it.
type Notices interface {
	Subscribe(folderID int64) *store.FolderSub
	Notify(folderID int64)
}

var _ Notices = (*store.FolderListener)(nil)

// UsageWatcher hears of a mailbox whose usage an APPEND or a COPY grew,
// after the commit, so that its owner is warned when it crosses a quota
// threshold (mda.QuotaWarnings). It must not block the command.
type UsageWatcher interface {
	UsageGrew(mailboxID int64)
}

// usageGrew tells Options.Usage, if any, that the session's mailbox grew.
func (s *session) usageGrew() {
	if u := s.srv.opts.Usage; u != nil {
		u.UsageGrew(s.acct.MailboxID)
	}
}

// Options configure a Server.
type Options struct {
	Backend     Backend
	Files       Files
	Auth        sasl.Authenticator // the one shared with SMTP and POP3
	Notices     Notices
	Usage       UsageWatcher // optional
	MaildirRoot string
	Owner       maildir.Owner
	Names       *maildir.Generator
	TLS         *tls.Config // for STARTTLS and the implicit-TLS listener
	// AllowPlaintextLoopback lets loopback clients log in without TLS.
	AllowPlaintextLoopback bool
	// MaxConnsPerClient bounds the connections open at once from one
	// client (an IPv4 address or an IPv6 /64) over both listeners
	// (imap.max_connections_per_client); 0 means no limit.
	MaxConnsPerClient int
	// AppendLimit is the largest message APPEND accepts (APPENDLIMIT).
	AppendLimit int64
	// CommandTimeout bounds each command's database work
	// (limits.command_timeout); 0: connctx.DefaultTimeout.
	CommandTimeout time.Duration
	// LoginTimeout and IdleTimeout end a session that sends nothing for
	// so long before login (0: 30 seconds) and after (0: 35 minutes,
	// RFC 9051 5.4), with "* BYE".
	LoginTimeout, IdleTimeout time.Duration
	Log                       *slog.Logger
}

// Server is the IMAP server of a node.
type Server struct {
	opts Options
	log  *slog.Logger

	imapLn, imapsLn net.Listener
	limiter         *connlimit.Limiter // shared by both listeners
	connID          atomic.Uint64
	ctx             context.Context // of Serve: sessions' contexts derive from it

	mu     sync.Mutex
	conns  map[*session]struct{}
	wg     sync.WaitGroup
	caps   string // the capabilities of an authenticated session
	caches *msgCaches
	// adoptChecks: the node's looks for files to adopt, by folder (adopt.go).
	adoptChecks adoptChecks
	// recentClaims: the node's \Recent claims, by folder (recentclaims.go).
	recentClaims recentClaims
}

// New returns a server; bind it with Listen, run it with Serve.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.AppendLimit <= 0 || opts.AppendLimit > 1<<32-1 {
		opts.AppendLimit = 1<<32 - 1
	}
	s := &Server{opts: opts, log: opts.Log, ctx: context.Background(),
		limiter: connlimit.New(opts.MaxConnsPerClient, nil), conns: map[*session]struct{}{}, caches: newMsgCaches()}
	s.caps = baseCaps + syncCaps + " APPENDLIMIT=" + strconv.FormatInt(opts.AppendLimit, 10)
	return s
}

// baseCaps are the capabilities of every state; see session.capabilities.
const baseCaps = "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT " +
	"CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH SEARCHRES STATUS=SIZE " +
	"BINARY UTF8=ACCEPT MULTIAPPEND WITHIN PREVIEW QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE " + sortCaps

// refusal is the greeting of a client over its connection limit: BYE
// instead of OK (RFC 9051 7.1.5), over TLS on the imaps listener.
func (s *Server) refusal(tlsConf *tls.Config) connlimit.Refusal {
	return connlimit.Refusal{
		TLS: tlsConf,
		Reply: func(netip.Addr) string {
			return "* BYE [UNAVAILABLE] Too many connections from your address, try again later\r\n"
		},
		Refused: func(ip netip.Addr) {
			s.log.Info("imap connection refused: too many from the client", "client", ip.String(),
				"max", s.opts.MaxConnsPerClient)
		},
	}
}

// Listen binds the listeners: imap (STARTTLS) and imaps (implicit TLS);
// an empty address skips that listener.
func (s *Server) Listen(imapAddr, imapsAddr string) error {
	if imapAddr != "" {
		ln, err := net.Listen("tcp", imapAddr)
		if err != nil {
			return fmt.Errorf("listen.imap %s: %w", imapAddr, err)
		}
		s.imapLn = s.limiter.Listen(ln, s.refusal(nil))
	}
	if imapsAddr != "" {
		if s.opts.TLS == nil {
			return errors.New("listen.imaps: no TLS configuration")
		}
		ln, err := net.Listen("tcp", imapsAddr)
		if err != nil {
			if s.imapLn != nil {
				s.imapLn.Close()
			}
			return fmt.Errorf("listen.imaps %s: %w", imapsAddr, err)
		}
		s.imapsLn = tls.NewListener(s.limiter.Listen(ln, s.refusal(s.opts.TLS)), s.opts.TLS)
	}
	return nil
}

// Addr returns the bound address of the imap (tls false) or imaps
// listener, nil if it is not bound.
func (s *Server) Addr(tlsListener bool) net.Addr {
	ln := s.imapLn
	if tlsListener {
		ln = s.imapsLn
	}
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

// Serve accepts connections until ctx ends, then closes every connection
// and waits for their sessions to end.
func (s *Server) Serve(ctx context.Context) error {
	s.ctx = ctx // before any connection is accepted
	errc := make(chan error, 2)
	var accepting sync.WaitGroup
	for _, l := range []struct {
		ln  net.Listener
		tls bool
	}{{s.imapLn, false}, {s.imapsLn, true}} {
		if l.ln == nil {
			continue
		}
		s.log.Info("imap listening", "addr", l.ln.Addr().String(), "tls", l.tls, "starttls", !l.tls && s.opts.TLS != nil)
		accepting.Add(1)
		go func() {
			defer accepting.Done()
			errc <- s.accept(l.ln, l.tls)
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	if s.imapLn != nil {
		s.imapLn.Close()
	}
	if s.imapsLn != nil {
		s.imapsLn.Close()
	}
	accepting.Wait()
	s.mu.Lock()
	for c := range s.conns {
		c.conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("imap: %w", err)
	}
	return nil
}

// accept runs a session for each connection of ln.
func (s *Server) accept(ln net.Listener, implicitTLS bool) error {
	var retry connserve.AcceptRetry // out of file descriptors: wait, not stop
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if retry.Wait(err) {
				continue
			}
			return err
		}
		retry.Reset()
		sess := s.newSession(c, implicitTLS)
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.conns[sess] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			sess.serve()
			s.mu.Lock()
			delete(s.conns, sess)
			s.mu.Unlock()
		}()
	}
}
