package web

import (
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"strings"
)

// Mail clients configure themselves from what this file serves:
// Thunderbird's autoconfig (config-v1.1.xml, looked up on
// autoconfig.<domain> and under /.well-known on the domain) and Outlook's
// Autodiscover (the "POX" protocol: an XML request naming the address,
// an XML answer). Both answer only for domains hosted here, without a
// login, and tell nothing but the server's host name and ports.

// clientDomain is the domain a client asks about: the one of the
// emailaddress parameter, else the request's host name without an
// "autoconfig." or "autodiscover." label.
func clientDomain(r *http.Request) string {
	if addr := r.URL.Query().Get("emailaddress"); addr != "" {
		if at := strings.LastIndexByte(addr, '@'); at >= 0 {
			return addr[at+1:]
		}
		return ""
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, p := range []string{"autoconfig.", "autodiscover."} {
		host = strings.TrimPrefix(host, p)
	}
	return host
}

// servesMail answers 404 and false unless domain is hosted here.
func (h *Handler) servesMail(w http.ResponseWriter, r *http.Request, domain string) bool {
	ok, err := h.svc.ServesMail(r.Context(), domain)
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	if !ok {
		http.Error(w, "no mail is hosted here for "+domain, http.StatusNotFound)
	}
	return ok
}

// tbServer is an incomingServer or outgoingServer of config-v1.1.
type tbServer struct {
	Type       string `xml:"type,attr"`
	Hostname   string `xml:"hostname"`
	Port       int    `xml:"port"`
	SocketType string `xml:"socketType"`
	Username   string `xml:"username"`
	Auth       string `xml:"authentication"`
}

type tbConfig struct {
	XMLName  xml.Name `xml:"clientConfig"`
	Version  string   `xml:"version,attr"`
	Provider struct {
		ID       string     `xml:"id,attr"`
		Domain   string     `xml:"domain"`
		Display  string     `xml:"displayName"`
		Short    string     `xml:"displayShortName"`
		Incoming []tbServer `xml:"incomingServer"`
		Outgoing []tbServer `xml:"outgoingServer"`
	} `xml:"emailProvider"`
}

// endpoint is one way a client reaches a service: its port and whether
// TLS starts at once (implicit) or by STARTTLS.
type endpoint struct {
	Port     int
	Implicit bool
}

// endpoints lists a service's enabled ports, implicit TLS first (RFC 8314
// 3: clients should prefer it).
func endpoints(implicit, starttls int) []endpoint {
	var out []endpoint
	if implicit > 0 {
		out = append(out, endpoint{implicit, true})
	}
	if starttls > 0 {
		out = append(out, endpoint{starttls, false})
	}
	return out
}

// autoconfig serves Thunderbird's config-v1.1.xml.
func (h *Handler) autoconfig(w http.ResponseWriter, r *http.Request) {
	domain := strings.ToLower(clientDomain(r))
	if !h.servesMail(w, r, domain) {
		return
	}
	c := h.opts.Client
	var cfg tbConfig
	cfg.Version = "1.1"
	p := &cfg.Provider
	p.ID, p.Domain, p.Display, p.Short = domain, domain, domain+" mail", domain
	server := func(typ string, e endpoint) tbServer {
		socket := "STARTTLS"
		if e.Implicit {
			socket = "SSL"
		}
		return tbServer{Type: typ, Hostname: c.Host, Port: e.Port, SocketType: socket,
			Username: "%EMAILADDRESS%", Auth: "password-cleartext"}
	}
	for _, e := range endpoints(c.IMAPS, c.IMAP) {
		p.Incoming = append(p.Incoming, server("imap", e))
	}
	for _, e := range endpoints(c.POP3S, c.POP3) {
		p.Incoming = append(p.Incoming, server("pop3", e))
	}
	for _, e := range endpoints(c.Submissions, c.Submission) {
		p.Outgoing = append(p.Outgoing, server("smtp", e))
	}
	writeXML(w, "application/xml", cfg)
}

const (
	adResponseNS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	adOutlookNS  = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)

type adProtocol struct {
	Type         string `xml:"Type"`
	Server       string `xml:"Server"`
	Port         int    `xml:"Port"`
	DomainReq    string `xml:"DomainRequired"`
	LoginName    string `xml:"LoginName"`
	SPA          string `xml:"SPA"`
	SSL          string `xml:"SSL"`
	Encryption   string `xml:"Encryption,omitempty"`
	AuthRequired string `xml:"AuthRequired"`
}

type adResponse struct {
	XMLName  xml.Name `xml:"Autodiscover"`
	NS       string   `xml:"xmlns,attr"`
	Response struct {
		NS      string `xml:"xmlns,attr"`
		Account struct {
			Type      string       `xml:"AccountType"`
			Action    string       `xml:"Action"`
			Protocols []adProtocol `xml:"Protocol"`
		} `xml:"Account"`
	} `xml:"Response"`
}

// autodiscover answers Outlook's POX Autodiscover request.
func (h *Handler) autodiscover(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `xml:"Request>EMailAddress"`
	}
	err := xml.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req)
	at := strings.LastIndexByte(req.Email, '@')
	if err != nil || at < 1 {
		http.Error(w, "the request is not an Autodiscover request with an EMailAddress", http.StatusBadRequest)
		return
	}
	if !h.servesMail(w, r, req.Email[at+1:]) {
		return
	}
	c := h.opts.Client
	var resp adResponse
	resp.NS, resp.Response.NS = adResponseNS, adOutlookNS
	acc := &resp.Response.Account
	acc.Type, acc.Action = "email", "settings"
	proto := func(typ string, e endpoint) adProtocol {
		p := adProtocol{Type: typ, Server: c.Host, Port: e.Port, DomainReq: "off", LoginName: req.Email,
			SPA: "off", SSL: "on", AuthRequired: "on"}
		if !e.Implicit {
			p.Encryption = "TLS" // STARTTLS
		}
		return p
	}
	// Outlook takes one server per protocol: the preferred one.
	if e := endpoints(c.IMAPS, c.IMAP); len(e) > 0 {
		acc.Protocols = append(acc.Protocols, proto("IMAP", e[0]))
	}
	if e := endpoints(c.Submissions, c.Submission); len(e) > 0 {
		acc.Protocols = append(acc.Protocols, proto("SMTP", e[0]))
	}
	writeXML(w, "application/xml", resp)
}

// writeXML writes v as an XML document.
func writeXML(w http.ResponseWriter, contentType string, v any) {
	w.Header().Set("Content-Type", contentType+"; charset=utf-8")
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		// The status is sent; the client sees a cut document.
		return
	}
	io.WriteString(w, "\n")
}
