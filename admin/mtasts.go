package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strconv"
	"strings"

	"mailhost/address"
)

// mtaSTSPolicy is the MTA-STS policy of every local domain (RFC 8461
// 3.2: CRLF line ends, our host name as the one MX) and its id for the
// _mta-sts TXT record: a digest of the text, so that a change of mode,
// host name or max_age changes the id and senders fetch the policy again
// (RFC 8461 3.1).
func (s *Service) mtaSTSPolicy() (policy, id string) {
	c := s.opts.DNS
	policy = "version: STSv1\r\nmode: " + c.MTASTSMode + "\r\nmx: " + strings.ToLower(c.Hostname) +
		"\r\nmax_age: " + strconv.Itoa(c.MTASTSMaxAge) + "\r\n"
	sum := sha256.Sum256([]byte(policy))
	return policy, hex.EncodeToString(sum[:10])
}

// MTASTSPolicy returns the policy file that https://<host>/.well-known/mta-sts.txt
// serves when host (the request's Host, a port allowed) is mta-sts.<a
// local, active domain>; NotFound for any other host or when
// mta_sts.mode is none. Anyone may read it.
func (s *Service) MTASTSPolicy(ctx context.Context, host string) (string, error) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	rest, ok := strings.CutPrefix(strings.ToLower(host), "mta-sts.")
	if !ok || s.opts.DNS.MTASTSMode == "none" {
		return "", newErr(NotFound, "no MTA-STS policy here")
	}
	name, err := address.Domain(strings.TrimSuffix(rest, "."))
	if err != nil {
		return "", newErr(NotFound, "no MTA-STS policy here")
	}
	d, err := s.st.Read().DomainByName(ctx, name, false)
	if err != nil {
		return "", notFound(err, "no MTA-STS policy here")
	}
	if d.Kind != "local" || !d.Active {
		return "", newErr(NotFound, "no MTA-STS policy here")
	}
	policy, _ := s.mtaSTSPolicy()
	return policy, nil
}
