package approval

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// LocalConfig configures a LocalStore.
type LocalConfig struct {
	// Path is the JSON file that keeps requests across daemon restarts
	// (written atomically, 0600, in a 0700 directory). Empty keeps them in
	// memory only.
	Path string
	// Logger receives load problems. Default slog.Default().
	Logger *slog.Logger
}

// DefaultLocalPath is where interlockd keeps approval requests on one host.
const DefaultLocalPath = "/var/lib/interlock/approvals/requests.json"

// LocalStore is the single-host Store: a map under a mutex, optionally
// persisted to a root-only JSON file after every change. What a restart
// does to the requests is the service's business (see Service).
type LocalStore struct {
	cfg LocalConfig
	log *slog.Logger
	hub *hub

	mu     sync.Mutex
	reqs   map[string]*Request
	closed bool
}

var _ Store = (*LocalStore)(nil)

// NewLocalStore opens the store, loading cfg.Path when it exists. An
// unreadable file is moved aside and the store starts empty.
func NewLocalStore(ctx context.Context, cfg LocalConfig) (*LocalStore, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &LocalStore{cfg: cfg, log: cfg.Logger.With("component", "approval-store"), hub: newHub(), reqs: map[string]*Request{}}
	if cfg.Path == "" {
		return s, nil
	}
	if err := prepareDir(cfg.Path); err != nil {
		return nil, err
	}
	reqs, err := loadFile(ctx, cfg.Path, s.log)
	if err != nil {
		return nil, err
	}
	for _, r := range reqs {
		s.reqs[r.ID] = r
	}
	return s, nil
}

// Create implements Store.
func (s *LocalStore) Create(_ context.Context, r *Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, ok := s.reqs[r.ID]; ok {
		return fmt.Errorf("create approval request %s: id exists", r.ID)
	}
	s.reqs[r.ID] = r.Clone()
	if err := s.persistLocked(); err != nil {
		delete(s.reqs, r.ID)
		return err
	}
	return nil
}

// Get implements Store.
func (s *LocalStore) Get(_ context.Context, id string) (*Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r, ok := s.reqs[id]
	if !ok {
		return nil, ErrNotFound
	}
	return r.Clone(), nil
}

// List implements Store.
func (s *LocalStore) List(_ context.Context, f Filter) ([]*Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var out []*Request
	for _, r := range s.reqs {
		if (len(f.States) == 0 || slices.Contains(f.States, r.State)) &&
			(f.Node == "" || r.Node == f.Node) &&
			(f.DueBy.IsZero() || !r.ExpiresAt.After(f.DueBy)) {
			out = append(out, r)
		}
	}
	sortRequests(out)
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	if len(out) > limit {
		out = out[:limit]
	}
	for i, r := range out {
		out[i] = r.Clone()
	}
	return out, nil
}

func sortRequests(rs []*Request) {
	slices.SortFunc(rs, func(a, b *Request) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// Update implements Store.
func (s *LocalStore) Update(_ context.Context, u Update) (*Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	cur, ok := s.reqs[u.ID]
	if !ok {
		return nil, ErrNotFound
	}
	if !u.matches(cur) {
		return cur.Clone(), ErrConflict
	}
	next := cur.Clone()
	u.apply(next)
	s.reqs[u.ID] = next
	if err := s.persistLocked(); err != nil {
		s.reqs[u.ID] = cur
		return nil, err
	}
	s.hub.notify(u.ID)
	return next.Clone(), nil
}

// FindApproved implements Store.
func (s *LocalStore) FindApproved(_ context.Context, requester string, b Binding, now time.Time) (*Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var best *Request
	for _, r := range s.reqs {
		if r.State == StateApproved && r.Requester.Subject == requester && r.Binding.Equal(b) && r.ExpiresAt.After(now) &&
			(best == nil || r.CreatedAt.Before(best.CreatedAt)) {
			best = r
		}
	}
	if best == nil {
		return nil, ErrNotFound
	}
	return best.Clone(), nil
}

// Purge implements Store.
func (s *LocalStore) Purge(_ context.Context, t time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	var gone []*Request
	for id, r := range s.reqs {
		if r.State.Final() && r.CreatedAt.Before(t) {
			gone = append(gone, r)
			delete(s.reqs, id)
		}
	}
	if len(gone) == 0 {
		return 0, nil
	}
	if err := s.persistLocked(); err != nil {
		for _, r := range gone {
			s.reqs[r.ID] = r
		}
		return 0, err
	}
	return len(gone), nil
}

// Subscribe implements Store.
func (s *LocalStore) Subscribe(id string) (<-chan struct{}, func()) { return s.hub.subscribe(id) }

// Close implements Store; it is safe to call twice.
func (s *LocalStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *LocalStore) persistLocked() error {
	if s.cfg.Path == "" {
		return nil
	}
	rs := make([]*Request, 0, len(s.reqs))
	for _, r := range s.reqs {
		rs = append(rs, r)
	}
	sortRequests(rs)
	return saveFile(s.cfg.Path, rs)
}
