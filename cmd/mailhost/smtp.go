package main

import (
	"crypto/tls"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/config"
	"mailhost/dnsres"
	"mailhost/maildir"
	"mailhost/mda"
	"mailhost/mta"
	"mailhost/senderauth"
	"mailhost/store"
)

// newSMTPServer binds the MX listener (before privileges are dropped) and
// wires the SMTP server to the delivery agent and the store; quota (nil:
// none) warns of quotas its deliveries cross.
func newSMTPServer(cfg *config.Config, st *store.Store, tlsConf *tls.Config, quota *mda.QuotaWarnings,
	log *slog.Logger, reg prometheus.Registerer) (*mta.Server, error) {
	names, err := maildir.NewGenerator(cfg.Hostname)
	if err != nil {
		return nil, err
	}
	agent := &mda.Agent{
		Root:          cfg.MaildirRoot,
		Owner:         maildir.Owner{UID: cfg.Vmail.UID, GID: cfg.Vmail.GID},
		Names:         names,
		Index:         &mda.GroupIndex{Store: st}, // group commit across sessions
		Filter:        sieveFilter(cfg, st, log),
		QuotaWarnings: quota,
	}
	var nets []netip.Prefix
	for _, n := range cfg.SMTP.Mynetworks {
		p, err := config.ParseNetwork(n)
		if err != nil {
			return nil, err
		}
		nets = append(nets, p)
	}
	// The one resolver of the node, and its cache: block lists and the
	// sender checks here, MX, addresses, TLSA and MTA-STS records in the
	// queue workers (newOutbound takes it from the server's Config).
	minTTL, maxTTL, negTTL := cfg.DNS.CacheTTLs()
	res, err := dnsres.New(dnsres.Config{Servers: cfg.DNS.Servers(), Cache: dnsres.CacheConfig{
		Entries: cfg.DNS.CacheEntries, MinTTL: minTTL, MaxTTL: maxTTL, NegativeTTL: negTTL}})
	if err != nil {
		return nil, err
	}
	fwd, err := newSRS(cfg, st) // srs.go
	if err != nil {
		return nil, err
	}
	mcfg := mta.Config{
		Hostname:           cfg.Hostname,
		Mynetworks:         nets,
		MaxMessageBytes:    cfg.SMTP.MessageSizeLimit,
		RecipientDelimiter: cfg.SMTP.RecipientDelimiter,
		MaxRecipients:      cfg.SMTP.MaxRecipients,
		Timeout:            time.Duration(cfg.SMTP.Timeout) * time.Second,
		MaxErrors:          cfg.SMTP.MaxErrors,
		MaxConnsPerClient:  cfg.SMTP.MaxConnsPerClient,
		MaxLineLength:      cfg.SMTP.MaxLineLength,
		MaxReceived:        cfg.SMTP.MaxReceived,
		DNSBL:              cfg.SMTP.DNSBL,
		DNSBLAction:        cfg.SMTP.DNSBLAction,
		DNS:                res,
		TLS:                tlsConf,
		CommandTimeout:     time.Duration(cfg.Limits.CommandTimeout) * time.Second,
		SRS:                fwd,
		Inbound:            inboundChecks(cfg, res),
		DKIM:               newSigner(cfg, st, log),
	}
	if mcfg.Filter, err = newFilterStage(cfg, st, log.With("server", "smtp"), cfg.Filter.SMTP, false); err != nil {
		return nil, err
	}
	m := mta.NewMetrics()
	if err := m.Register(reg); err != nil {
		return nil, err
	}
	return mta.New(cfg.Listen.SMTP, mcfg, st, agent, log.With("server", "smtp"), m)
}

// inboundChecks is the MX listener's sender authentication (inbound.*),
// nil when inbound.checks is off.
func inboundChecks(cfg *config.Config, res *dnsres.Resolver) *mta.Inbound {
	in := cfg.Inbound
	if !in.Checks {
		return nil
	}
	id := in.AuthServID
	if id == "" {
		id = cfg.Hostname
	}
	return &mta.Inbound{
		Checker:        &senderauth.Checker{DNS: res, MaxSignatures: in.MaxDKIMSignatures},
		AuthServID:     id,
		RejectNoPTR:    in.RejectNoPTR,
		DeferTempError: in.TempError == "defer",
		PolicyTTL:      mta.DefaultPolicyTTL,
	}
}
