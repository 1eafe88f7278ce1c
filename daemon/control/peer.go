package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"golang.org/x/sys/unix"
)

// Peer is the process at the other end of a control connection, as the
// kernel reported it when the connection was accepted (SO_PEERCRED).
type Peer struct {
	UID uint32
	GID uint32
	PID int32
}

// IsRoot reports whether the peer runs as uid 0.
func (p Peer) IsRoot() bool { return p.UID == 0 }

type peerKey struct{}

// PeerOf returns the caller of r. It is always set for requests served by
// a Server; ok is false only for requests that did not come through one.
func PeerOf(r *http.Request) (Peer, bool) { return PeerFrom(r.Context()) }

// PeerFrom returns the peer stored in ctx by the server.
func PeerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// connContext puts the peer of c into the connection's context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if cc, ok := c.(*credConn); ok {
		return context.WithValue(ctx, peerKey{}, cc.peer)
	}
	return ctx
}

// peerCred reads SO_PEERCRED of a unix connection.
func peerCred(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("peer credentials: %T is not a unix connection", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", credErr)
	}
	return Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, nil
}

// credListener reads each connection's peer credentials at accept and
// bounds open connections, in all and per uid, so one user cannot starve
// the others' logins.
type credListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	once      sync.Once
	maxPerUID int
	log       *slog.Logger

	mu     sync.Mutex
	perUID map[uint32]int
}

func newCredListener(ln net.Listener, maxConns, maxPerUID int, log *slog.Logger) *credListener {
	return &credListener{
		Listener: ln, slots: make(chan struct{}, maxConns), done: make(chan struct{}),
		maxPerUID: maxPerUID, log: log, perUID: map[uint32]int{},
	}
}

func (l *credListener) Accept() (net.Conn, error) {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		p, err := peerCred(c)
		if err != nil {
			l.log.Warn("control connection without peer credentials refused", "err", err)
			c.Close()
			<-l.slots
			continue
		}
		if !l.take(p.UID) {
			l.log.Warn("control connection refused: too many from this uid", "uid", p.UID, "pid", p.PID, "max", l.maxPerUID)
			c.Close()
			<-l.slots
			continue
		}
		return &credConn{Conn: c, peer: p, release: func() { l.give(p.UID); <-l.slots }}, nil
	}
}

func (l *credListener) take(uid uint32) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perUID[uid] >= l.maxPerUID {
		return false
	}
	l.perUID[uid]++
	return true
}

func (l *credListener) give(uid uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perUID[uid]--; l.perUID[uid] <= 0 {
		delete(l.perUID, uid)
	}
}

func (l *credListener) Close() error {
	l.once.Do(func() { close(l.done) })
	err := l.Listener.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// credConn is an accepted connection with its peer.
type credConn struct {
	net.Conn
	peer    Peer
	release func()
	once    sync.Once
}

func (c *credConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
