package prefetch

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		url      string
		filtered []string
		want     string
	}{
		{"https://Files.Example.com/a/b.bin", nil, "https://files.example.com/a/b.bin"},
		{"https://s3.example.com/b?X-Amz-Signature=1&x-amz-date=2&X-Amz-Credential=3&X-Amz-Expires=4&X-Amz-Security-Token=5&v=1", nil, "https://s3.example.com/b?v=1"},
		{"https://storage.googleapis.com/b?X-Goog-Signature=1&X-Goog-Date=2&X-Goog-Credential=3&X-Goog-Expires=4", nil, "https://storage.googleapis.com/b"},
		{"https://acct.blob.core.windows.net/c/b?sv=2024&sig=x&se=y&st=z&sp=r", nil, "https://acct.blob.core.windows.net/c/b?sp=r&sv=2024"},
		{"https://cdn.example.com/b?Signature=x&Expires=1&z=1&a=2#frag", nil, "https://cdn.example.com/b?a=2&z=1"},
		{"https://user:pw@example.com/b", nil, "https://example.com/b"},
		{"https://example.com/b?token=1&X-Amz-Signature=2", []string{"token"}, "https://example.com/b?X-Amz-Signature=2"},
	} {
		got, err := Key(tc.url, tc.filtered)
		if err != nil || got != tc.want {
			t.Errorf("Key(%q, %v) = %q, %v; want %q", tc.url, tc.filtered, got, err, tc.want)
		}
	}
}

func TestPolicyCheckAddr(t *testing.T) {
	all := Policy{AllowLoopback: true, AllowPrivate: true}
	none := Policy{}
	for _, tc := range []struct {
		addr        string
		allowedAll  bool // with loopback and private allowed
		allowedNone bool // with neither
		why         string
	}{
		{"93.184.215.14", true, true, ""},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", true, true, ""},
		{"169.254.169.254", false, false, "cloud metadata"},
		{"::ffff:169.254.169.254", false, false, "cloud metadata"},
		{"fd00:ec2::254", false, false, "cloud metadata"},
		{"100.100.100.200", false, false, "cloud metadata"},
		{"169.254.1.1", false, false, "link-local"},
		{"fe80::1", false, false, "link-local"},
		{"127.0.0.1", true, false, "loopback"},
		{"127.8.9.10", true, false, "loopback"},
		{"::1", true, false, "loopback"},
		{"0.0.0.0", true, false, "loopback"},
		{"10.0.0.1", true, false, "private"},
		{"172.16.5.4", true, false, "private"},
		{"192.168.1.1", true, false, "private"},
		{"100.64.0.1", true, false, "private"},
		{"fd12::1", true, false, "private"},
		{"172.32.0.1", true, true, ""},
	} {
		ip := netip.MustParseAddr(tc.addr)
		for _, c := range []struct {
			p       Policy
			allowed bool
		}{{all, tc.allowedAll}, {none, tc.allowedNone}} {
			err := c.p.CheckAddr(ip)
			if c.allowed && err != nil {
				t.Errorf("%+v: %s refused: %v", c.p, tc.addr, err)
			}
			if !c.allowed && (!errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.why)) {
				t.Errorf("%+v: %s: %v, want refused as %s", c.p, tc.addr, err, tc.why)
			}
		}
	}
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"A": "1", "B": "two"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	got, err := ExpandEnv("x${A}y${B}$C", lookup)
	if err != nil || got != "x1ytwo$C" {
		t.Errorf("ExpandEnv = %q, %v", got, err)
	}
	for _, s := range []string{"${MISSING}", "${A", "${}"} {
		if _, err := ExpandEnv(s, lookup); !errors.Is(err, ErrEnv) {
			t.Errorf("ExpandEnv(%q) = %v, want ErrEnv", s, err)
		}
	}
	if _, err := ExpandEnv("${MISSING}", lookup); !strings.Contains(err.Error(), "MISSING") {
		t.Errorf("error %v does not name the variable", err)
	}
}
