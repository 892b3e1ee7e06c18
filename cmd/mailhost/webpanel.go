package main

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"mailhost/admin"
	"mailhost/auth"
	"mailhost/config"
	"mailhost/web"
)

// newWebPanel builds the web panel of serve. When no admin exists yet it
// makes a one-time setup token and logs the link that uses it.
func newWebPanel(ctx context.Context, cfg *config.Config, svc *admin.Service, authn *auth.Authenticator, log *slog.Logger) (*web.Handler, error) {
	token := ""
	has, err := svc.HasAdmins(ctx)
	if err != nil {
		return nil, err
	}
	if !has {
		token = rand.Text()
		log.Warn("no administrator yet: open this link once to create the first super-admin (or run `mailhost admin add --super`)",
			"url", "http://"+setupHost(cfg)+"/setup?token="+token)
	}
	var proxies []netip.Prefix
	for _, n := range cfg.Web.TrustedProxies { // valid after Validate
		if p, err := config.ParseNetwork(n); err == nil {
			proxies = append(proxies, p)
		}
	}
	return web.New(web.Options{
		TrustedProxies: proxies,
		Admin:          svc,
		Logins:         authn,
		SessionIdle:    time.Duration(cfg.Web.SessionIdleMinutes) * time.Minute,
		SessionMax:     time.Duration(cfg.Web.SessionMaxHours) * time.Hour,
		Client:         clientSettings(cfg),
		RetentionDays:  cfg.Mailbox.RetentionDays,
		SetupToken:     token,
		Log:            log,
	})
}

// setupHost is HOST:PORT of the HTTP listener as a browser reaches it: the
// host name for a wildcard address.
func setupHost(cfg *config.Config) string {
	host, port, err := net.SplitHostPort(cfg.Listen.HTTP)
	if err != nil {
		return cfg.Listen.HTTP
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = cfg.Hostname
	}
	return net.JoinHostPort(host, port)
}

// clientSettings are the host and ports the panel tells mail users to use.
func clientSettings(cfg *config.Config) web.Client {
	port := func(addr string) int {
		if !config.Enabled(addr) {
			return 0
		}
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			return 0
		}
		n, _ := strconv.Atoi(p)
		return n
	}
	l := cfg.Listen
	return web.Client{Host: cfg.Hostname,
		IMAP: port(l.IMAP), IMAPS: port(l.IMAPS), POP3: port(l.POP3), POP3S: port(l.POP3S),
		Submission: port(l.Submission), Submissions: port(l.Submissions)}
}
