package approval

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
)

// AuditSink receives the service's audit records; *audit.Log implements
// it. A failed Write changes nothing: the request is not created, the
// decision not taken.
type AuditSink interface {
	Write(body audit.Body) error
}

// Defaults filled in by Config.Validate.
const (
	DefaultTimeout       = 5 * time.Minute
	DefaultMaxTimeout    = 24 * time.Hour
	DefaultApprovedTTL   = 15 * time.Minute
	DefaultMaxHeldBytes  = 1 << 20
	DefaultSweepInterval = 5 * time.Second
	DefaultPollInterval  = 2 * time.Second
	DefaultRetention     = 24 * time.Hour
	// decidingGrace is how long a claimed decision may stay uncommitted
	// (a node died between claim and commit) past the request's deadline
	// before the sweeper expires it.
	decidingGrace = time.Minute
	// maxTextBytes bounds comments and reasons.
	maxTextBytes = 4096
)

// Config configures a Service.
type Config struct {
	// Store holds the requests. Required. The service does not close it.
	Store Store
	// Audit receives the records. Required.
	Audit AuditSink
	// Node names this interlockd in requests; it must be unique in a
	// cluster and stable across restarts (on Kubernetes: the node name).
	// Default: the hostname.
	Node string
	// DefaultTimeout is how long a request stays pending when the policy
	// gives no timeout. Default 5 minutes.
	DefaultTimeout time.Duration
	// MaxTimeout caps the policy's timeout. Default 24 hours.
	MaxTimeout time.Duration
	// ApprovedTTL is how long an approval may be used once given (the
	// non-blocking re-run window). Default 15 minutes.
	ApprovedTTL time.Duration
	// MaxStatementBytes bounds the statement text in audit records (the
	// full text's SHA-256 is always recorded). Default
	// audit.DefaultMaxStatementBytes; pass (*audit.Log).MaxStatementBytes().
	MaxStatementBytes int
	// MaxHeldBytes bounds the statement plus parameters a request may
	// hold; larger statements are refused. Default 1 MiB.
	MaxHeldBytes int
	// SweepInterval is how often pending requests past their deadline
	// are expired when nobody waits on them. Default 5 seconds.
	SweepInterval time.Duration
	// PollInterval is how often Wait re-reads the request in case a
	// change notification was lost. Default 2 seconds.
	PollInterval time.Duration
	// Retention is how long final requests stay in the store (the audit
	// chain keeps them for good). Default 24 hours.
	Retention time.Duration
	// Webhook, when set, is told about every new request.
	Webhook *WebhookConfig
	// Clock is the time source. Default time.Now.
	Clock func() time.Time
	// Logger receives operational messages. Default slog.Default().
	Logger *slog.Logger
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	if c.Store == nil || c.Audit == nil {
		return errors.New("approval: a store and an audit sink are required")
	}
	if c.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("approval: node name: %w", err)
		}
		c.Node = h
	}
	for _, d := range []*struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.DefaultTimeout, DefaultTimeout}, {&c.MaxTimeout, DefaultMaxTimeout}, {&c.ApprovedTTL, DefaultApprovedTTL},
		{&c.SweepInterval, DefaultSweepInterval}, {&c.PollInterval, DefaultPollInterval}, {&c.Retention, DefaultRetention},
	} {
		if *d.v < 0 {
			return fmt.Errorf("approval: negative duration %s", *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.DefaultTimeout > c.MaxTimeout {
		c.DefaultTimeout = c.MaxTimeout
	}
	if c.MaxStatementBytes <= 0 {
		c.MaxStatementBytes = audit.DefaultMaxStatementBytes
	}
	if c.MaxHeldBytes <= 0 {
		c.MaxHeldBytes = DefaultMaxHeldBytes
	}
	if c.Webhook != nil {
		if err := c.Webhook.Validate(); err != nil {
			return err
		}
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Service enforces the approval rules: who may see and decide a request,
// that the requester never approves their own statement, that an approval
// covers exactly one execution of exactly the approved statement, and
// that every request and decision is in the audit chain before it takes
// effect. The proxy, the control socket and the HTTP API all go through
// it; none of them can override a rule.
type Service struct {
	cfg     Config
	log     *slog.Logger
	webhook *webhook

	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New starts the service. Requests this node held in blocking mode that
// are still pending are expired first (reason "abandoned"): the daemon
// restarted, so the sessions waiting on them are gone. Non-blocking
// requests and approvals not yet used are kept. A background sweeper then
// expires requests past their deadline and purges old ones.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "approval", "node", cfg.Node)}
	if err := s.recover(ctx); err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	if cfg.Webhook != nil {
		s.webhook = newWebhook(*cfg.Webhook, s.log)
		s.wg.Go(func() { s.webhook.run(bg) })
	}
	s.wg.Go(func() { s.sweepLoop(bg) })
	return s, nil
}

// Close stops the sweeper and the webhook; queued notifications are
// dropped. It does not close the store. It is safe to call twice.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		s.wg.Wait()
	})
	return nil
}

// ApprovedTTL is how long an approval may be used once given.
func (s *Service) ApprovedTTL() time.Duration { return s.cfg.ApprovedTTL }

// now is the clock in UTC, truncated to what PostgreSQL stores.
func (s *Service) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Microsecond) }

var idEncoding = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// newID returns 80 random bits as 16 characters that are easy to read
// aloud and type (no 0/o, 1/l).
func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// Request records a new request and returns it (pending, with its ID).
// The audit record is written first; if that fails, or the store refuses
// the request, the statement must be refused. A webhook, when configured,
// is notified without delaying the caller.
func (s *Service) Request(ctx context.Context, n NewRequest) (*Request, error) {
	if err := s.checkNew(&n); err != nil {
		return nil, err
	}
	now := s.now()
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = s.cfg.DefaultTimeout
	}
	timeout = min(timeout, s.cfg.MaxTimeout)
	r := &Request{
		ID: newID(), State: StatePending, Mode: n.Mode, Requester: n.Requester,
		Endpoint: n.Endpoint, Database: n.Database, Statement: n.Statement, Params: n.Params,
		Binding: n.Binding(), ApproverGroups: n.ApproverGroups, Reason: n.Reason, SessionID: n.SessionID,
		Node: s.cfg.Node, CreatedAt: now, ExpiresAt: now.Add(timeout),
	}
	r = r.Clone() // the caller's slices stay theirs
	var b audit.Body
	s.requestRecord(&b, r)
	if err := s.cfg.Audit.Write(b); err != nil {
		return nil, fmt.Errorf("approval request: %w: %v", ErrAudit, err)
	}
	if err := s.cfg.Store.Create(ctx, r); err != nil {
		// The chain says the request exists: close it there.
		s.expiryRecord(&b, r, StatePending, "not stored: "+err.Error(), now)
		if aerr := s.cfg.Audit.Write(b); aerr != nil {
			s.log.Error("audit record of an unstored approval request not written", "request_id", r.ID, "err", aerr)
		}
		return nil, fmt.Errorf("approval request: %w", err)
	}
	s.log.Info("approval requested", "request_id", r.ID, "requester", r.Requester.Subject, "endpoint", r.Endpoint,
		"database", r.Database, "approver_groups", r.ApproverGroups, "mode", r.Mode, "expires_at", r.ExpiresAt)
	if s.webhook != nil {
		s.webhook.enqueue(r)
	}
	return r.Clone(), nil
}

func (s *Service) checkNew(n *NewRequest) error {
	switch {
	case n.Requester.Subject == "":
		return fmt.Errorf("%w: the requester has no subject", ErrBadRequest)
	case n.Endpoint == "":
		return fmt.Errorf("%w: no endpoint", ErrBadRequest)
	case strings.TrimSpace(n.Statement) == "":
		return fmt.Errorf("%w: no statement", ErrBadRequest)
	case len(n.ApproverGroups) == 0:
		return fmt.Errorf("%w: the policy named no approver groups, so nobody could approve", ErrBadRequest)
	case len(n.Statement)+n.Params.size() > s.cfg.MaxHeldBytes:
		return fmt.Errorf("%w: statement and parameters exceed %d bytes, too large to hold for approval", ErrBadRequest, s.cfg.MaxHeldBytes)
	case strings.IndexByte(n.Statement, 0) >= 0:
		return fmt.Errorf("%w: the statement contains a NUL byte", ErrBadRequest)
	}
	for _, g := range n.ApproverGroups {
		if g == "" {
			return fmt.Errorf("%w: an approver group is empty", ErrBadRequest)
		}
	}
	if err := n.Params.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	switch n.Mode {
	case "":
		n.Mode = ModeBlocking
	case ModeBlocking, ModeNonBlocking:
	default:
		return fmt.Errorf("%w: unknown mode %q", ErrBadRequest, n.Mode)
	}
	return checkText("reason", n.Reason)
}

// checkText bounds free text (comments, reasons) and refuses NUL, which
// PostgreSQL's jsonb cannot hold.
func checkText(what, s string) error {
	if len(s) > maxTextBytes {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrBadRequest, what, maxTextBytes)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: %s contains a NUL byte", ErrBadRequest, what)
	}
	return nil
}

// Get returns a request by id, without visibility checks (for the proxy).
func (s *Service) Get(ctx context.Context, id string) (*Request, error) {
	return s.cfg.Store.Get(ctx, id)
}

// Wait blocks until the request is no longer pending and returns it:
// approved (call Consume), rejected, withdrawn, expired (Wait itself
// expires it at its deadline) or consumed. It wakes within milliseconds
// of a decision on any node. It returns ctx's error when ctx ends first;
// the request then stays pending (call Withdraw if the client gave up).
func (s *Service) Wait(ctx context.Context, id string) (*Request, error) {
	changed, unsubscribe := s.cfg.Store.Subscribe(id)
	defer unsubscribe()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	deadline := time.NewTimer(time.Hour)
	defer deadline.Stop()
	for {
		r, err := s.cfg.Store.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		switch r.State {
		case StatePending:
			left := r.ExpiresAt.Sub(s.now())
			if left <= 0 {
				done, err := s.expire(ctx, r, "timeout: no decision within "+r.ExpiresAt.Sub(r.CreatedAt).String())
				if errors.Is(err, ErrConflict) {
					continue // decided meanwhile: read it again
				}
				return done, err
			}
			deadline.Reset(left)
		case StateDeciding:
			deadline.Stop() // a decision is being committed: its change wakes us
		default:
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
		case <-deadline.C:
		case <-poll.C:
		}
	}
}

// Consume uses an approval: atomically approved → consumed, once. b must
// be the binding of the execution about to run (BindingOf with the exact
// requester, endpoint, database, statement and parameters); a different
// binding is refused with ErrBindingMismatch and leaves the approval
// unused. A second Consume fails with ErrNotApproved. The returned request
// carries the decision for the statement's audit record (AppendAudit).
func (s *Service) Consume(ctx context.Context, id string, b Binding) (*Request, error) {
	r, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !r.Binding.Equal(b) {
		return nil, fmt.Errorf("use approval %s: %w", id, ErrBindingMismatch)
	}
	now := s.now()
	done, err := s.cfg.Store.Update(ctx, Update{ID: id, From: StateApproved, To: StateConsumed, LiveAt: now, ConsumedAt: now})
	if errors.Is(err, ErrConflict) {
		if done.State == StateApproved {
			return nil, fmt.Errorf("use approval %s: %w", id, ErrExpired)
		}
		return nil, fmt.Errorf("use approval %s: it is %s: %w", id, done.State, ErrNotApproved)
	}
	if err != nil {
		return nil, fmt.Errorf("use approval %s: %w", id, err)
	}
	s.log.Info("approval used", "request_id", id, "requester", done.Requester.Subject)
	return done, nil
}

// FindApproved returns an approved, unused, unexpired request of
// requester whose binding is b (the non-blocking re-run), or ErrNotFound.
// Follow it with Consume.
func (s *Service) FindApproved(ctx context.Context, requester string, b Binding) (*Request, error) {
	return s.cfg.Store.FindApproved(ctx, requester, b, s.now())
}
