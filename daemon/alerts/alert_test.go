package alerts

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/redirect"
)

func TestFromEvent(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name string
		ev   redirect.Event
		want Alert
	}{
		{
			"raw socket with everything known",
			redirect.Event{
				Time: at, Kind: redirect.KindRawSocket, Action: redirect.ActionBlocked, Count: 2,
				Known: redirect.KnownPID | redirect.KnownUID | redirect.KnownCgroup | redirect.KnownNetns | redirect.KnownSource,
				PID:   42, UID: 0, Comm: "nmap", Exe: "/usr/bin/nmap", Cmdline: []string{"nmap"},
				CgroupID: 7, Cgroup: "/app", NetnsCookie: 4096, SocketType: 3, SocketFamily: 2,
				Source: netip.MustParseAddrPort("10.0.0.9:4000"), Destination: netip.MustParseAddrPort("10.0.0.5:5432"),
			},
			Alert{
				Time: at, Kind: KindRawSocket, Action: ActionBlocked, Count: 2, PID: 42, UID: u32(0), Comm: "nmap",
				Exe: "/usr/bin/nmap", Cmdline: []string{"nmap"}, Cgroup: "/app", CgroupID: 7, Netns: 4096,
				Source: "10.0.0.9:4000", Destination: "10.0.0.5:5432", Protocol: "tcp", SocketType: "raw",
			},
		},
		{
			"tc drop of a packet socket, nothing but the packet known",
			redirect.Event{
				Time: at, Kind: redirect.KindTCDrop, Action: redirect.ActionDetected, Count: 1,
				SocketType: 3, SocketFamily: 17, Interface: "eth0", UID: 99, PID: 5,
				Destination: netip.MustParseAddrPort("[fd00::5]:5432"),
			},
			Alert{Time: at, Kind: KindTCDrop, Action: ActionDetected, Count: 1, Interface: "eth0", Destination: "[fd00::5]:5432", Protocol: "tcp", SocketType: "packet"},
		},
		{
			"unix socket",
			redirect.Event{Time: at, Kind: redirect.KindUnixSocket, Action: redirect.ActionBlocked, Known: redirect.KnownUID | redirect.KnownGID, UID: 1000, GID: 1001, Path: "/run/postgresql/.s.PGSQL.5432", SocketType: 1, SocketFamily: 1},
			Alert{Time: at, Kind: KindUnixSocket, Action: ActionBlocked, Count: 1, UID: u32(1000), GID: u32(1001), Destination: "/run/postgresql/.s.PGSQL.5432", Protocol: "unix", SocketType: "stream"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromEvent(tt.ev)
			if !equalAlert(got, tt.want) {
				t.Errorf("FromEvent =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func equalAlert(a, b Alert) bool {
	eqp := func(x, y *uint32) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	ua, ub, ga, gb := a.UID, b.UID, a.GID, b.GID
	a.UID, b.UID, a.GID, b.GID = nil, nil, nil, nil
	ca, cb := a.Cmdline, b.Cmdline
	a.Cmdline, b.Cmdline = nil, nil
	return eqp(ua, ub) && eqp(ga, gb) && slices.Equal(ca, cb) && reflect.DeepEqual(a, b)
}

// fakeSource replays events, then ends like a closed reader.
type fakeSource struct{ evs []redirect.Event }

func (s *fakeSource) Read(ctx context.Context) (redirect.Event, error) {
	if len(s.evs) == 0 {
		return redirect.Event{}, redirect.ErrClosed
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}

func TestConsume(t *testing.T) {
	p := newPipeline(t, Config{})
	src := &fakeSource{evs: []redirect.Event{
		{Kind: redirect.KindPreexisting, Action: redirect.ActionBlocked, Count: 1, Known: redirect.KnownUID, UID: 5, Destination: netip.MustParseAddrPort("10.0.0.5:5432")},
		{Kind: redirect.KindForeignNetns, Action: redirect.ActionBlocked, Count: 1, Known: redirect.KnownUID, UID: 6, Destination: netip.MustParseAddrPort("10.0.0.5:5432")},
	}}
	if err := p.Consume(context.Background(), src); !errors.Is(err, redirect.ErrClosed) {
		t.Fatalf("Consume: %v, want the source's error", err)
	}
	got := delivered(t, p, 2)
	if got[0].Kind != KindPreexisting || got[1].Kind != KindForeignNetns {
		t.Errorf("alerts %+v", got)
	}
}
