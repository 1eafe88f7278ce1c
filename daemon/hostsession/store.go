package hostsession

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/interlock-dev/interlock/daemon/identity"
)

// DefaultPath is where interlockd keeps host sessions. Its directory is
// created 0700 and the file is written 0600: it holds refresh tokens.
const DefaultPath = "/var/lib/interlock/sessions/sessions.json"

// DefaultRefreshBefore is how long before expiry a session is renewed.
const DefaultRefreshBefore = time.Minute

// Errors of Login.
var (
	ErrNoToken = errors.New("no token: an access token or an ID token is required")
	ErrClosed  = errors.New("session store is closed")
)

// Verifier checks a raw token; *identity.Verifier implements it.
type Verifier interface {
	Verify(ctx context.Context, raw string) (*identity.Identity, error)
}

// Config configures a Store.
type Config struct {
	// Path is the session file. Empty keeps sessions in memory only.
	Path string
	// Verifier verifies tokens (issuer, audience, expiry, signature). Required.
	Verifier Verifier
	// OAuth2 is the CLI client used to refresh sessions. When nil and
	// Issuer and ClientID are set, it is built from the issuer's discovery
	// document at the first refresh. With neither, sessions end at expiry.
	OAuth2 *oauth2.Config
	// Issuer is the OIDC issuer URL, for discovery when OAuth2 is nil.
	Issuer string
	// ClientID is the CLI's (public) client ID, when OAuth2 is nil.
	ClientID string
	// HTTPClient talks to the identity provider on refresh; nil uses a
	// client with a 30s timeout.
	HTTPClient *http.Client
	// RefreshBefore is how long before expiry a session is renewed; it is
	// capped at half the token's remaining life. Default DefaultRefreshBefore.
	RefreshBefore time.Duration
	// Clock is the time source. Default time.Now.
	Clock func() time.Time
	// Logger receives session events. Default slog.Default().
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Verifier == nil {
		return errors.New("hostsession: a verifier is required")
	}
	if c.RefreshBefore < 0 {
		return fmt.Errorf("hostsession: refresh before %s is negative", c.RefreshBefore)
	}
	if c.RefreshBefore == 0 {
		c.RefreshBefore = DefaultRefreshBefore
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// entry is what the store keeps per uid. Entries are immutable once
// published; changes publish a new entry.
type entry struct {
	sess *Session
	tok  Tokens
	// nextRefresh is when the refresher renews the session.
	nextRefresh time.Time
	// refreshErr is the last refresh failure, "" if none.
	refreshErr string
	// attempts counts failed refreshes in a row.
	attempts int
	// noRefresh is set when refreshing failed for good (invalid grant).
	noRefresh bool
}

func (e *entry) canRefresh() bool { return e.sess.AutoRefresh && !e.noRefresh }

type sessionMap = map[uint32]*entry

// Store holds the host sessions, keyed by uid.
type Store struct {
	cfg Config
	log *slog.Logger

	// sessions is replaced whole (copy on write) under mu; Lookup reads it
	// without locking.
	sessions atomic.Pointer[sessionMap]
	mu       sync.Mutex

	subMu   sync.Mutex
	subs    map[int]func(uid uint32, reason string)
	nextSub int

	oauthMu sync.Mutex
	oauth   *oauth2.Config

	kick      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New opens the store and loads the sessions persisted at cfg.Path,
// dropping expired ones and ones whose token no longer verifies.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "hostsession"),
		subs:  map[int]func(uint32, string){},
		oauth: cfg.OAuth2,
		kick:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	empty := sessionMap{}
	s.sessions.Store(&empty)
	if cfg.Path == "" {
		s.log.Info("host sessions are kept in memory only")
		return s, nil
	}
	if err := prepareDir(cfg.Path); err != nil {
		return nil, err
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) now() time.Time { return s.cfg.Clock() }

// Lookup returns the live session of uid. It is called for every
// connection: it takes no lock and does not allocate.
func (s *Store) Lookup(uid uint32) (*Session, bool) {
	e, ok := (*s.sessions.Load())[uid]
	if !ok || !s.now().Before(e.sess.Identity.Expiry) {
		return nil, false
	}
	return e.sess, true
}

// Sessions returns the live sessions, for listing by an administrator.
func (s *Store) Sessions() []*Session {
	m := *s.sessions.Load()
	now := s.now()
	out := make([]*Session, 0, len(m))
	for _, e := range m {
		if now.Before(e.sess.Identity.Expiry) {
			out = append(out, e.sess)
		}
	}
	return out
}

// Login verifies tok and makes it the session of uid, replacing any
// earlier one. The uid must come from the kernel (SO_PEERCRED). Token
// failures are *identity.TokenError.
func (s *Store) Login(ctx context.Context, uid uint32, tok Tokens) (*identity.Identity, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	id, err := s.verify(ctx, tok)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(id.Expiry) {
		return nil, &identity.TokenError{Cause: identity.CauseExpired, Err: fmt.Errorf("expired at %s", id.Expiry.UTC().Format(time.RFC3339))}
	}
	e := &entry{
		sess: &Session{UID: uid, Identity: id, LoginAt: now, AutoRefresh: tok.RefreshToken != "" && s.refreshConfigured()},
		tok:  tok,
	}
	e.nextRefresh = s.refreshAt(now, id.Expiry)

	s.mu.Lock()
	old := (*s.sessions.Load())[uid]
	err = s.commit(false, func(m sessionMap) { m[uid] = e })
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("store session: %w", err)
	}
	s.wake()
	s.log.Info("host session started", "uid", uid, "sub", id.Subject, "email", id.Email, "expiry", id.Expiry, "auto_refresh", e.sess.AutoRefresh)
	if old != nil && (old.sess.Identity.Subject != id.Subject || old.sess.Identity.Issuer != id.Issuer) {
		s.notify(uid, ReasonReplaced)
	}
	return id, nil
}

// Logout ends the session of uid and reports whether there was one.
func (s *Store) Logout(uid uint32) bool {
	return s.end(uid, nil, ReasonLogout)
}

// Subscribe registers fn to be told when a uid's session ends, with one
// of the Reason constants. fn runs synchronously on the goroutine that
// ended the session, after Lookup stopped returning it; it must not block.
// The returned function unsubscribes.
func (s *Store) Subscribe(fn func(uid uint32, reason string)) (unsubscribe func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	return func() {
		s.subMu.Lock()
		defer s.subMu.Unlock()
		delete(s.subs, id)
	}
}

// Close stops Run and refuses further logins. Sessions stay persisted.
// It is safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return nil
}

func (s *Store) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *Store) notify(uid uint32, reason string) {
	s.subMu.Lock()
	fns := make([]func(uint32, string), 0, len(s.subs))
	for _, fn := range s.subs {
		fns = append(fns, fn)
	}
	s.subMu.Unlock()
	for _, fn := range fns {
		fn(uid, reason)
	}
}

// end removes the session of uid, persists and notifies subscribers. With
// want set, it only removes that entry (not a newer login). It reports
// whether it removed a session.
func (s *Store) end(uid uint32, want *entry, reason string) bool {
	s.mu.Lock()
	cur, ok := (*s.sessions.Load())[uid]
	if !ok || (want != nil && cur != want) {
		s.mu.Unlock()
		return false
	}
	err := s.commit(true, func(m sessionMap) { delete(m, uid) })
	if err != nil {
		// The session is gone from memory; it would come back after a
		// restart until its expiry.
		s.log.Error("persist host sessions", "err", err)
	}
	s.mu.Unlock()
	s.wake()
	s.log.Info("host session ended", "uid", uid, "sub", cur.sess.Identity.Subject, "reason", reason)
	s.notify(uid, reason)
	return true
}

// commit applies change to a copy of the sessions, persists the copy and
// publishes it; s.mu is held. When persisting fails the copy is published
// only if keep is set: a login that cannot be persisted is refused, while
// an ended or refreshed session must take effect anyway.
func (s *Store) commit(keep bool, change func(sessionMap)) error {
	cur := *s.sessions.Load()
	next := make(sessionMap, len(cur)+1)
	maps.Copy(next, cur)
	change(next)
	err := s.persist(next)
	if err == nil || keep {
		s.sessions.Store(&next)
	}
	return err
}

// verify picks the token to trust: the access token when it is a JWT for
// our audience, else the ID token.
func (s *Store) verify(ctx context.Context, tok Tokens) (*identity.Identity, error) {
	if strings.Count(tok.AccessToken, ".") == 2 {
		id, err := s.cfg.Verifier.Verify(ctx, tok.AccessToken)
		if err == nil {
			return id, nil
		}
		var te *identity.TokenError
		notForUs := errors.As(err, &te) && (te.Cause == identity.CauseWrongAudience || te.Cause == identity.CauseMalformed)
		if !notForUs || tok.IDToken == "" {
			return nil, err
		}
	}
	if tok.IDToken == "" {
		return nil, ErrNoToken
	}
	return s.cfg.Verifier.Verify(ctx, tok.IDToken)
}

func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
