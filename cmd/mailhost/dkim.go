package main

import (
	"context"
	"log/slog"
	"time"

	"mailhost/admin"
	"mailhost/config"
	"mailhost/dkimsign"
	"mailhost/dnsres"
	"mailhost/mta"
	"mailhost/store"
)

// newSigner is the DKIM signer of outgoing mail (dkim.sign), nil when off.
func newSigner(cfg *config.Config, st *store.Store, log *slog.Logger) mta.Signer {
	if !cfg.DKIM.Sign {
		return nil
	}
	return dkimsign.New(st, 0, log)
}

// resolver is the node's resolver for the admin service's DNS checks, a
// resolver of its own without a cache: a check, and the rotation waiting
// for a new key's record, must see what DNS says now. Nil when dns.resolver names no
// usable server (Validate refuses that).
func resolver(cfg *config.Config) admin.Resolver {
	r, err := dnsres.New(dnsres.Config{Servers: cfg.DNS.Servers()})
	if err != nil {
		return nil
	}
	return r
}

// mailDNS is what the DNS page and the MTA-STS policy say of this
// installation: the host name, the MTA-STS keys, and the client services
// of the RFC 6186 SRV records (their standard ports; those whose
// listener is off are published as not offered).
func mailDNS(cfg *config.Config) admin.MailDNS {
	_, grace := cfg.DKIM.Durations()
	svc := func(name string, port uint16, listen string) admin.ClientService {
		return admin.ClientService{Name: name, Port: port, Offered: config.Enabled(listen)}
	}
	return admin.MailDNS{
		Hostname: cfg.Hostname, MTASTSMode: cfg.MTASTS.Mode, MTASTSMaxAge: cfg.MTASTS.MaxAge, DKIMGrace: grace,
		Services: []admin.ClientService{
			svc("submission", 587, cfg.Listen.Submission),
			svc("submissions", 465, cfg.Listen.Submissions), // RFC 8314 5.1
			svc("imap", 143, cfg.Listen.IMAP),
			svc("imaps", 993, cfg.Listen.IMAPS),
			svc("pop3", 110, cfg.Listen.POP3),
			svc("pop3s", 995, cfg.Listen.POP3S),
		},
	}
}

// dkimKeeper gives domains without DKIM keys theirs once at start-up,
// then every dkim.check_interval makes rotated keys sign once their DNS
// records are seen and retires the keys they replaced.
type dkimKeeper struct {
	svc *admin.Service
	cfg config.DKIM
	log *slog.Logger
}

func (k dkimKeeper) Serve(ctx context.Context) error {
	made, err := k.svc.EnsureDKIMKeys(ctx)
	if err != nil && ctx.Err() == nil {
		k.log.Error("dkim: make missing keys", "err", err)
	}
	for _, d := range made {
		k.log.Info("dkim: made keys", "domain", d)
	}
	every, _ := k.cfg.Durations()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, _, err := k.svc.CheckDKIMRotations(ctx); err != nil && ctx.Err() == nil {
			k.log.Error("dkim: check rotations", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
