package redirect

import (
	"net/netip"
	"strings"
	"testing"
)

func TestEndpointNormalize(t *testing.T) {
	pfx, ap := netip.MustParsePrefix, netip.MustParseAddrPort
	tests := []struct {
		name    string
		in      Endpoint
		want    Endpoint
		wantErr string
	}{
		{"ipv4 host", Endpoint{pfx("10.0.0.5/32"), 5432, ap("127.0.0.1:6432")}, Endpoint{pfx("10.0.0.5/32"), 5432, ap("127.0.0.1:6432")}, ""},
		{"ipv4 cidr is masked", Endpoint{pfx("10.0.0.5/24"), 5432, ap("127.0.0.1:6432")}, Endpoint{pfx("10.0.0.0/24"), 5432, ap("127.0.0.1:6432")}, ""},
		{"ipv4-mapped prefix is ipv4", Endpoint{pfx("::ffff:10.0.0.0/120"), 5432, ap("[::ffff:127.0.0.1]:6432")}, Endpoint{pfx("10.0.0.0/24"), 5432, ap("127.0.0.1:6432")}, ""},
		{"ipv6 with ipv6 listener", Endpoint{pfx("fd00::/64"), 5432, ap("[::1]:6432")}, Endpoint{pfx("fd00::/64"), 5432, ap("[::1]:6432")}, ""},
		{"ipv6 with ipv4 listener", Endpoint{pfx("fd00::1/128"), 5432, ap("127.0.0.1:6432")}, Endpoint{pfx("fd00::1/128"), 5432, ap("127.0.0.1:6432")}, ""},
		{"ipv4 needs ipv4 listener", Endpoint{pfx("10.0.0.5/32"), 5432, ap("[::1]:6432")}, Endpoint{}, "IPv4 listener"},
		{"ipv6 covering mapped space", Endpoint{pfx("::/0"), 5432, ap("[::1]:6432")}, Endpoint{}, "overlaps"},
		{"short mapped prefix", Endpoint{pfx("::ffff:0.0.0.0/90"), 5432, ap("127.0.0.1:6432")}, Endpoint{}, "shorter than /96"},
		{"port 0", Endpoint{pfx("10.0.0.5/32"), 0, ap("127.0.0.1:6432")}, Endpoint{}, "port"},
		{"listener port 0", Endpoint{pfx("10.0.0.5/32"), 5432, ap("127.0.0.1:0")}, Endpoint{}, "listener"},
		{"unspecified listener", Endpoint{pfx("10.0.0.5/32"), 5432, ap("0.0.0.0:6432")}, Endpoint{}, "listener"},
		{"invalid prefix", Endpoint{netip.Prefix{}, 5432, ap("127.0.0.1:6432")}, Endpoint{}, "invalid prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.normalize()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("normalize(%v) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("normalize(%v): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("normalize(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if back := endpointFromEntry(got.key(), got.target()); back != got {
				t.Errorf("trie entry decodes to %v, want %v", back, got)
			}
		})
	}
}

func TestEndpointKeyLayout(t *testing.T) {
	e, err := Endpoint{netip.MustParsePrefix("10.1.2.0/24"), 5432, netip.MustParseAddrPort("127.0.0.1:6432")}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	k := e.key()
	if k.Prefixlen != 32+96+24 {
		t.Errorf("prefixlen = %d, want %d (port+pad, mapped prefix, /24)", k.Prefixlen, 32+96+24)
	}
	if got := wordsAddr(k.Addr); got != netip.MustParseAddr("::ffff:10.1.2.0") {
		t.Errorf("key address = %s, want ::ffff:10.1.2.0", got)
	}
	if ntohs(k.Port) != 5432 || k.Port == 5432 && htons(5432) != 5432 {
		t.Errorf("key port = %#x, want 5432 in network byte order", k.Port)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		in      Config
		wantErr string
	}{
		{"defaults", Config{}, ""},
		{"relative pin dir", Config{PinDir: "bpf/interlock"}, "absolute"},
		{"relative cgroup", Config{CgroupPath: "unified/x"}, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.in
			err := c.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.PinDir != DefaultPinDir || c.Mark != DefaultMark || c.Logger == nil {
				t.Errorf("defaults not filled: %+v", c)
			}
		})
	}
}
