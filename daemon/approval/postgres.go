package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of PostgresConfig.
const (
	DefaultSchema  = "interlock"
	DefaultTable   = "approval_requests"
	DefaultChannel = "interlock_approvals"
)

// PostgresConfig configures a PostgresStore.
type PostgresConfig struct {
	// DSN is a libpq-style connection string or URL of the database that
	// holds the requests (not necessarily a protected one). Required.
	DSN string
	// Schema and Table name the table, created when missing. Defaults
	// DefaultSchema and DefaultTable.
	Schema string
	Table  string
	// Channel is the LISTEN/NOTIFY channel. Default DefaultChannel.
	Channel string
	// MaxConns bounds the pool. Default 4.
	MaxConns int32
	// Logger receives connection problems. Default slog.Default().
	Logger *slog.Logger
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Validate checks c and fills in defaults.
func (c *PostgresConfig) Validate() error {
	if c.DSN == "" {
		return errors.New("approval postgres store: a DSN is required")
	}
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.Channel == "" {
		c.Channel = DefaultChannel
	}
	for _, n := range []string{c.Schema, c.Table, c.Channel} {
		if !identRE.MatchString(n) {
			return fmt.Errorf("approval postgres store: %q is not a lowercase identifier", n)
		}
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 4
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// PostgresStore is the cluster Store: one table that every node reads
// and writes, with a NOTIFY on every update. Each store keeps one LISTEN
// connection and wakes its local subscribers when any node changes a
// request, within milliseconds.
type PostgresStore struct {
	cfg   PostgresConfig
	log   *slog.Logger
	pool  *pgxpool.Pool
	table string // quoted schema.table
	hub   *hub
	sql   pgSQL

	cancel    context.CancelFunc
	done      chan struct{}
	listening chan struct{} // closed once the first LISTEN is in place
	closeOnce sync.Once
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore connects, creates the schema and table when missing
// and starts listening. It returns once LISTEN is in place, so a change
// made after it returns wakes subscribers.
func NewPostgresStore(ctx context.Context, cfg PostgresConfig) (*PostgresStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("parse approval store dsn: %w", err)
	}
	pcfg.MaxConns = cfg.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open approval store pool: %w", err)
	}
	table := pgx.Identifier{cfg.Schema, cfg.Table}.Sanitize()
	s := &PostgresStore{
		cfg: cfg, log: cfg.Logger.With("component", "approval-store", "table", cfg.Schema+"."+cfg.Table),
		pool: pool, table: table, hub: newHub(), sql: newPgSQL(table),
		done: make(chan struct{}), listening: make(chan struct{}),
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go s.listen(lctx)
	select {
	case <-s.listening:
		return s, nil
	case <-ctx.Done():
		return nil, errors.Join(fmt.Errorf("listen for approval changes: %w", ctx.Err()), s.Close())
	}
}

// pgSQL are the statements, built once for the configured table.
type pgSQL struct {
	create, get, list, update, find, purge string
}

func newPgSQL(t string) pgSQL {
	return pgSQL{
		create: `INSERT INTO ` + t + ` (id, state, requester, binding, node, created_at, expires_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		get:    `SELECT doc FROM ` + t + ` WHERE id = $1`,
		list: `SELECT doc FROM ` + t + ` WHERE (cardinality($1::text[]) = 0 OR state = ANY($1)) AND ($2 = '' OR node = $2)
		       AND ($3::timestamptz IS NULL OR expires_at <= $3) ORDER BY created_at, id LIMIT $4`,
		// The update, its NOTIFY and the returned row are one statement:
		// the notification is sent when it commits.
		update: `WITH u AS (
		           UPDATE ` + t + ` SET state = $3, expires_at = coalesce($6, expires_at), doc = doc || $7::jsonb
		           WHERE id = $1 AND state = $2
		             AND ($4::timestamptz IS NULL OR expires_at > $4)
		             AND ($5::timestamptz IS NULL OR expires_at <= $5)
		           RETURNING id, doc)
		         SELECT u.doc FROM u CROSS JOIN LATERAL (SELECT pg_notify($8, u.id)) n`,
		find: `SELECT doc FROM ` + t + ` WHERE state = 'approved' AND requester = $1 AND binding = $2 AND expires_at > $3
		       ORDER BY created_at, id LIMIT 1`,
		purge: `DELETE FROM ` + t + ` WHERE state IN ('consumed', 'rejected', 'expired', 'withdrawn') AND created_at < $1`,
	}
}

// migrate creates the schema, table and indexes under an advisory lock,
// so nodes starting together do not collide.
func (s *PostgresStore) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create approval table: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	stmts := []string{
		`SELECT pg_advisory_xact_lock(hashtext('interlock approval store'))`,
		`CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{s.cfg.Schema}.Sanitize(),
		`CREATE TABLE IF NOT EXISTS ` + s.table + ` (
			id         text PRIMARY KEY,
			state      text NOT NULL,
			requester  text NOT NULL,
			binding    bytea NOT NULL,
			node       text NOT NULL,
			created_at timestamptz NOT NULL,
			expires_at timestamptz NOT NULL,
			doc        jsonb NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{s.cfg.Table + "_approved"}.Sanitize() + ` ON ` + s.table + ` (requester, binding) WHERE state = 'approved'`,
		`CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{s.cfg.Table + "_state"}.Sanitize() + ` ON ` + s.table + ` (state, expires_at)`,
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("create approval table: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("create approval table: %w", err)
	}
	return nil
}

// Create implements Store.
func (s *PostgresStore) Create(ctx context.Context, r *Request) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode approval request: %w", err)
	}
	if _, err := s.pool.Exec(ctx, s.sql.create, r.ID, string(r.State), r.Requester.Subject, r.Binding[:], r.Node, r.CreatedAt, r.ExpiresAt, doc); err != nil {
		return fmt.Errorf("store approval request: %w", err)
	}
	return nil
}

// Get implements Store.
func (s *PostgresStore) Get(ctx context.Context, id string) (*Request, error) {
	return s.one(ctx, s.sql.get, id)
}

func (s *PostgresStore) one(ctx context.Context, q string, args ...any) (*Request, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, q, args...).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read approval request: %w", err)
	}
	return decodeDoc(doc)
}

func decodeDoc(doc []byte) (*Request, error) {
	var r Request
	if err := json.Unmarshal(doc, &r); err != nil {
		return nil, fmt.Errorf("decode approval request: %w", err)
	}
	return &r, nil
}

// List implements Store.
func (s *PostgresStore) List(ctx context.Context, f Filter) ([]*Request, error) {
	states := make([]string, len(f.States))
	for i, st := range f.States {
		states[i] = string(st)
	}
	var due *time.Time
	if !f.DueBy.IsZero() {
		due = &f.DueBy
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	rows, err := s.pool.Query(ctx, s.sql.list, states, f.Node, due, limit)
	if err != nil {
		return nil, fmt.Errorf("list approval requests: %w", err)
	}
	docs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("list approval requests: %w", err)
	}
	out := make([]*Request, 0, len(docs))
	for _, d := range docs {
		r, err := decodeDoc(d)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// docPatch is merged into the stored document by an update.
type docPatch struct {
	State      State      `json:"state"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Decision   *Decision  `json:"decision,omitempty"`
	ConsumedAt *time.Time `json:"consumed_at,omitempty"`
}

// Update implements Store.
func (s *PostgresStore) Update(ctx context.Context, u Update) (*Request, error) {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	p := docPatch{State: u.To, ExpiresAt: opt(u.ExpiresAt), Decision: u.Decision, ConsumedAt: opt(u.ConsumedAt)}
	patch, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode approval update: %w", err)
	}
	if u.ClearDecision {
		// A JSON null replaces the decision; omitempty cannot say that.
		m := map[string]json.RawMessage{}
		if err := json.Unmarshal(patch, &m); err != nil {
			return nil, fmt.Errorf("encode approval update: %w", err)
		}
		m["decision"] = json.RawMessage("null")
		if patch, err = json.Marshal(m); err != nil {
			return nil, fmt.Errorf("encode approval update: %w", err)
		}
	}
	r, err := s.one(ctx, s.sql.update, u.ID, string(u.From), string(u.To), opt(u.LiveAt), opt(u.DueAt), opt(u.ExpiresAt), patch, s.cfg.Channel)
	if !errors.Is(err, ErrNotFound) {
		return r, err
	}
	cur, err := s.Get(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return cur, ErrConflict
}

// FindApproved implements Store.
func (s *PostgresStore) FindApproved(ctx context.Context, requester string, b Binding, now time.Time) (*Request, error) {
	return s.one(ctx, s.sql.find, requester, b[:], now)
}

// Purge implements Store.
func (s *PostgresStore) Purge(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, s.sql.purge, t)
	if err != nil {
		return 0, fmt.Errorf("purge approval requests: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Subscribe implements Store.
func (s *PostgresStore) Subscribe(id string) (<-chan struct{}, func()) { return s.hub.subscribe(id) }

// Close stops listening and closes the pool; it is safe to call twice.
func (s *PostgresStore) Close() error {
	s.closeOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
		s.pool.Close()
	})
	return nil
}
