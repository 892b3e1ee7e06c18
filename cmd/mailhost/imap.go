package main

import (
	"context"
	"crypto/tls"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"mailhost/config"
	"mailhost/imapd"
	"mailhost/maildir"
	"mailhost/mda"
	"mailhost/sasl"
	"mailhost/store"
)

// imapServer runs the IMAP listeners and the node's folder-notice listener
// that wakes their sessions.
type imapServer struct {
	srv     *imapd.Server
	notices *store.FolderListener
}

// newIMAPServer binds listen.imap and listen.imaps ("off" skips one); nil
// when both are off.
// APPEND and COPY tell quota (nil: no quota warnings) of the usage they add.
func newIMAPServer(cfg *config.Config, st *store.Store, files imapd.Files, authn sasl.Authenticator, tlsConf *tls.Config,
	quota *mda.QuotaWarnings, log *slog.Logger) (*imapServer, error) {
	imapAddr, imapsAddr := "", ""
	if config.Enabled(cfg.Listen.IMAP) {
		imapAddr = cfg.Listen.IMAP
	}
	if config.Enabled(cfg.Listen.IMAPS) {
		imapsAddr = cfg.Listen.IMAPS
	}
	if imapAddr == "" && imapsAddr == "" {
		return nil, nil
	}
	names, err := maildir.NewGenerator(cfg.Hostname)
	if err != nil {
		return nil, err
	}
	log = log.With("server", "imap")
	notices := st.NewFolderListener(log)
	opts := imapd.Options{
		Backend:                st,
		Files:                  files,
		Auth:                   authn,
		Notices:                notices,
		MaildirRoot:            cfg.MaildirRoot,
		Owner:                  maildir.Owner{UID: cfg.Vmail.UID, GID: cfg.Vmail.GID},
		Names:                  names,
		TLS:                    tlsConf,
		AllowPlaintextLoopback: cfg.Auth.AllowPlaintextLoopback,
		MaxConnsPerClient:      cfg.IMAP.MaxConnsPerClient,
		AppendLimit:            cfg.SMTP.MessageSizeLimit,
		CommandTimeout:         time.Duration(cfg.Limits.CommandTimeout) * time.Second,
		Log:                    log,
	}
	if quota != nil {
		opts.Usage = quota
	}
	srv := imapd.New(opts)
	if err := srv.Listen(imapAddr, imapsAddr); err != nil {
		return nil, err
	}
	return &imapServer{srv: srv, notices: notices}, nil
}

func (s *imapServer) Serve(ctx context.Context) error {
	grp, gctx := errgroup.WithContext(ctx)
	grp.Go(func() error { return s.notices.Run(gctx) })
	grp.Go(func() error { return s.srv.Serve(gctx) })
	return grp.Wait()
}
