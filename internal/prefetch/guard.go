package prefetch

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Policy says which address ranges a fetch may reach besides the public
// internet. Link-local and cloud metadata addresses are never reachable.
type Policy struct {
	AllowLoopback bool // 127.0.0.0/8, ::1 (and 0.0.0.0, ::, which reach them)
	AllowPrivate  bool // RFC 1918, fc00::/7, 100.64.0.0/10

	// public is one address treated as on the public internet, so that
	// tests on loopback can stand in for a public server.
	public netip.AddrPort
}

// maxRedirects bounds a redirect chain.
const maxRedirects = 10

var (
	metadataAddrs = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, ...
		netip.MustParseAddr("fd00:ec2::254"),   // AWS IPv6
		netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	}
	privatePrefixes = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("fc00::/7"),
	}
)

// nat64 is the well-known NAT64 prefix (RFC 6052): 64:ff9b::a9fe:a9fe
// reaches 169.254.169.254 through a NAT64 gateway.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// CheckAddr says whether p allows connecting to ip.
func (p Policy) CheckAddr(ip netip.Addr) error {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		if err := p.CheckAddr(netip.AddrFrom4([4]byte(b[12:]))); err != nil {
			return fmt.Errorf("%w (through NAT64 address %s)", err, ip)
		}
	}
	for _, m := range metadataAddrs {
		if ip == m {
			return fmt.Errorf("%w: %s is a cloud metadata address", ErrRefused, ip)
		}
	}
	switch {
	case ip.IsLinkLocalUnicast():
		return fmt.Errorf("%w: %s is a link-local address", ErrRefused, ip)
	case ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("%w: %s is a multicast address", ErrRefused, ip)
	case ip.IsLoopback() || ip.IsUnspecified():
		if !p.AllowLoopback {
			return fmt.Errorf("%w: %s is a loopback address (not allowed by the plan)", ErrRefused, ip)
		}
		return nil
	}
	for _, pr := range privatePrefixes {
		if pr.Contains(ip) {
			if !p.AllowPrivate {
				return fmt.Errorf("%w: %s is a private address (not allowed by the plan)", ErrRefused, ip)
			}
			return nil
		}
	}
	return nil
}

// CheckURL refuses schemes other than http and https and hosts that are
// literal addresses p does not allow. Host names are checked when dialled.
func (p Policy) CheckURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%s: %w: scheme %q (only http and https)", u.Redacted(), ErrRefused, u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%s: %w: no host", u.Redacted(), ErrRefused)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := p.CheckAddr(ip); err != nil {
			return fmt.Errorf("%s: %w", u.Redacted(), err)
		}
	}
	return nil
}

// control is a net.Dialer Control func: it sees the resolved address of every
// connection, so a host name that resolves (or re-resolves) to a refused
// address is caught.
func (p Policy) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: dial %s %s: %v", ErrRefused, network, address, err)
	}
	if p.public.IsValid() && ap == p.public {
		return nil
	}
	return p.CheckAddr(ap.Addr())
}

// Transport returns an HTTP transport whose every connection p allows. It
// uses no proxy: a proxy would hide the real destination from the guard.
func (p Policy) Transport() *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.control}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
}

// Client returns an HTTP client over p's transport that re-checks the scheme
// and host of every redirect and follows at most maxRedirects.
func (p Policy) Client() *http.Client {
	return &http.Client{Transport: p.Transport(), CheckRedirect: p.checkRedirect}
}

// checkRedirect is an http.Client CheckRedirect func enforcing p.
func (p Policy) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("%w: more than %d redirects", ErrRefused, maxRedirects)
	}
	if err := p.CheckURL(req.URL); err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	return nil
}
