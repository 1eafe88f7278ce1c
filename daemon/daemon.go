package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/interlock-dev/interlock/daemon/alerts"
	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/catalog"
	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/daemon/control"
	"github.com/interlock-dev/interlock/daemon/hostsession"
	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/daemon/metrics"
	"github.com/interlock-dev/interlock/daemon/procs"
	"github.com/interlock-dev/interlock/daemon/proxy"
	"github.com/interlock-dev/interlock/daemon/rawio"
	"github.com/interlock-dev/interlock/daemon/recording"
	"github.com/interlock-dev/interlock/daemon/tlsca"
	"github.com/interlock-dev/interlock/daemon/upstream"
	"github.com/interlock-dev/interlock/policy"
	"github.com/interlock-dev/interlock/redirect"
)

// Options are run-time settings that are not part of the config file.
type Options struct {
	Logger *slog.Logger
	// Ready, if set, is called once every listener is bound.
	Ready func(*Daemon)
	// ConfigPath is reread on SIGHUP (see Reload); empty reloads the
	// policy files only.
	ConfigPath string
}

// Daemon is a running interlockd.
type Daemon struct {
	cfg           *config.Config
	log           *slog.Logger
	Metrics       *metrics.Metrics
	Policy        *policy.Engine
	Audit         *audit.Log
	Proxy         *proxy.Server
	Redirect      *redirect.Redirector
	Sessions      *hostsession.Store
	Control       *control.Server
	Approvals     *approval.Service
	Alerts        *alerts.Pipeline
	Guard         *redirect.Guard
	approvalStore approval.Store
}

// Run starts interlockd and blocks until ctx ends or a component fails.
func Run(ctx context.Context, cfg *config.Config, opts Options) (err error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	d := &Daemon{cfg: cfg, log: log, Metrics: metrics.New()}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sizeScheduler(ctx, cfg.Limits, log)

	var key []byte
	if cfg.Audit.SigningKeyFile != "" {
		k, err := audit.PrivateKeyFromFile(cfg.Audit.SigningKeyFile)
		if err != nil {
			return fmt.Errorf("audit signing key: %w", err)
		}
		key = k
	}
	d.Audit, err = audit.Open(ctx, audit.Config{
		Path:               cfg.Audit.Path,
		SigningKey:         key,
		CheckpointInterval: cfg.Audit.CheckpointInterval,
		RotateBytes:        cfg.Audit.RotateBytes,
		Fsync:              cfg.Audit.Fsync,
		WritebackInterval:  cfg.Audit.WritebackInterval,
		MaxStatementBytes:  cfg.Audit.MaxStatementBytes,
		Logger:             log,
	})
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	defer func() { err = errors.Join(err, d.Audit.Close()) }()
	d.Metrics.ObserveAuditHead(func() uint64 { next, _ := d.Audit.Head(); return next })

	d.Alerts, err = alerts.New(ctx, alerts.Config{
		Logger: log, Audit: d.Audit, Registerer: d.Metrics.Registry, Host: cfg.Approvals.NodeName,
		DedupWindow: cfg.Alerts.DedupWindow, RateLimit: cfg.Alerts.RateLimit, Burst: cfg.Alerts.Burst,
		Webhook: alerts.WebhookConfig{URL: cfg.Alerts.Webhook, Headers: cfg.Alerts.WebhookHeaders, QueueSize: cfg.Alerts.QueueSize, Timeout: cfg.Alerts.Timeout},
	})
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	defer d.Alerts.Close()

	verifier, err := identity.New(ctx, identity.Config{
		Issuer:      cfg.Identity.Issuer,
		Audience:    cfg.Identity.Audience,
		GroupsClaim: cfg.Identity.GroupsClaim,
		Algorithms:  cfg.Identity.Algorithms,
		Logger:      log,
	})
	if err != nil {
		return err
	}

	d.Sessions, err = hostsession.New(ctx, hostsession.Config{
		Path:     cfg.Control.SessionsFile,
		Verifier: verifier,
		Issuer:   cfg.Identity.Issuer,
		ClientID: cfg.Identity.ClientID,
		Logger:   log,
	})
	if err != nil {
		return fmt.Errorf("host sessions: %w", err)
	}
	defer d.Sessions.Close()
	go func() {
		if err := d.Sessions.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("host session refresher stopped", "err", err)
		}
	}()

	d.Policy, err = policy.New(ctx, policy.Config{
		Paths:     cfg.Policy.Paths,
		Data:      cfg.Policy.Data,
		CacheSize: cfg.Policy.CacheSize,
		Logger:    log,
		Observer:  d.Metrics.PolicyObserver(),
	})
	if err != nil {
		return fmt.Errorf("load policy: %w", err)
	}
	defer d.Policy.Close()
	if *cfg.Policy.Watch && len(cfg.Policy.Paths) > 0 {
		go func() {
			if err := d.Policy.Watch(ctx); err != nil && ctx.Err() == nil {
				log.Error("policy watch stopped", "err", err)
			}
		}()
	}

	var ca *tlsca.CA
	if cfg.TLS.Mode != config.TLSDisable {
		if ca, err = tlsca.LoadOrCreate(cfg.TLS.CADir); err != nil {
			return fmt.Errorf("local CA: %w", err)
		}
		log.Info("TLS towards clients", "mode", cfg.TLS.Mode, "ca", filepath.Join(cfg.TLS.CADir, tlsca.CertFile))
	}
	eps := make([]proxy.Endpoint, 0, len(cfg.Endpoints))
	for _, e := range cfg.Endpoints {
		dialer, err := upstream.New(upstream.Config{
			Address:        e.Upstream.Address,
			SSLMode:        e.Upstream.SSLMode,
			SSLRootCert:    e.Upstream.SSLRootCert,
			SSLCert:        e.Upstream.SSLCert,
			SSLKey:         e.Upstream.SSLKey,
			Mark:           cfg.UpstreamMark,
			ConnectTimeout: e.Upstream.ConnectTimeout,
		})
		if err != nil {
			return fmt.Errorf("endpoint %s: %w", e.Name, err)
		}
		cat := catalog.New(catalogConnector(dialer, e.CatalogRole()), log.With("endpoint", e.Name))
		defer cat.Close()
		pe := proxy.Endpoint{
			Name: e.Name, Labels: e.Labels, Listen: e.Listen,
			Database: e.Upstream.Database, Dialer: dialer, Roles: e.Roles, Catalog: cat,
			AuthSession: e.Accepts(config.AuthSession), AuthToken: e.Accepts(config.AuthToken),
			RequireTLS:   cfg.TLS.Mode == config.TLSRequire,
			ApprovalMode: approval.Mode(e.ApprovalMode),
			Record:       e.RecordResults,
		}
		if ca != nil {
			dns, ips := certNames(e)
			cert, err := ca.Issue(dns, ips)
			if err != nil {
				return fmt.Errorf("endpoint %s certificate: %w", e.Name, err)
			}
			pe.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		eps = append(eps, pe)
	}
	var origins proxy.OriginFunc
	if cfg.Redirect.Enabled {
		warnMissingCaps(log)
		rd, err := redirect.New(ctx, redirect.Config{CgroupPath: cfg.Redirect.Cgroup, PinDir: cfg.Redirect.PinDir, Mark: cfg.UpstreamMark, Logger: log})
		if err != nil {
			return fmt.Errorf("attach redirect: %w", err)
		}
		defer rd.Close()
		d.Redirect = rd
		origins = originFunc(rd)
	}
	if err := d.startApprovals(ctx, verifier); err != nil {
		return err
	}
	defer d.stopApprovals()
	var rec *recording.Recorder
	if slices.ContainsFunc(cfg.Endpoints, func(e config.Endpoint) bool { return e.RecordResults }) {
		dir := cfg.Recording.Dir
		if dir == "" {
			dir = recording.DefaultDir(cfg.Audit.Path)
		}
		rec, err = recording.New(ctx, recording.Config{Dir: dir, MaxBytes: cfg.Recording.MaxBytes,
			MaxRowsPerResult: cfg.Recording.MaxRowsPerResult, MaxAge: cfg.Recording.MaxAge, Logger: log})
		if err != nil {
			return fmt.Errorf("session recording: %w", err)
		}
		// Closed after the proxy has drained (defers run in reverse).
		defer rec.Close()
	}
	var hashKey []byte
	if cfg.Policy.MaskHashKeyFile != "" {
		if hashKey, err = os.ReadFile(cfg.Policy.MaskHashKeyFile); err != nil {
			return fmt.Errorf("masking hash key: %w", err)
		}
	}
	d.Proxy, err = proxy.New(ctx, proxy.Config{
		MaskHashKey:       hashKey,
		Approvals:         d.Approvals,
		Recorder:          rec,
		Endpoints:         eps,
		Verifier:          verifier,
		Policy:            d.Policy,
		Audit:             d.Audit,
		Metrics:           d.Metrics,
		Logger:            log,
		MaxMessageSize:    cfg.Limits.MaxMessageSize,
		StartupTimeout:    cfg.Limits.StartupTimeout,
		DrainTimeout:      cfg.Limits.DrainTimeout,
		MaxStatementBytes: cfg.Audit.MaxStatementBytes,
		Origins:           origins,
		Sessions:          hostSessions{d.Sessions},
	})
	if err != nil {
		return err
	}
	defer d.Proxy.Close()
	// Live connections end with the host session they are bound to.
	// TerminateUID does not block: when Logout returns, the sessions
	// already refuse every statement.
	defer d.Sessions.Subscribe(func(uid uint32, reason string) {
		d.Proxy.TerminateUID(uid, reason)
	})()

	d.Control, err = control.New(ctx, control.Config{
		SocketPath: cfg.Control.Socket,
		Store:      d.Sessions,
		Issuer:     cfg.Identity.Issuer,
		ClientID:   cfg.Identity.ClientID,
		Audience:   cfg.Identity.Audience,
		Logger:     log,
	})
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	defer d.Control.Close()
	approval.MountControl(d.Control, d.Approvals, d.Sessions)
	adminGIDs, err := groupIDs(cfg.Control.AdminGroup)
	if err != nil {
		return err
	}
	d.Control.Handle("GET "+alerts.Path, d.Alerts.Handler(alerts.RootOrGroup(adminGIDs, peerCreds)))
	if cfg.Approvals.APIListen != "" {
		api, err := approval.NewAPI(ctx, d.Approvals, approval.APIConfig{
			Listen: cfg.Approvals.APIListen, Verifier: verifier,
			TLSCertFile: cfg.Approvals.APITLSCert, TLSKeyFile: cfg.Approvals.APITLSKey,
			AllowPlaintext: cfg.Approvals.APIAllowPlaintext, Logger: log,
		})
		if err != nil {
			return fmt.Errorf("approval API: %w", err)
		}
		defer api.Close()
		go func() {
			if err := api.Serve(ctx); err != nil && ctx.Err() == nil {
				log.Error("approval API stopped", "err", err)
			}
		}()
		log.Info("approval API listening", "addr", api.Addr().String())
	}
	if d.Redirect != nil {
		// Only now, with every listener bound, do protected connects go
		// to interlockd; until then they were refused (fail closed).
		if err := d.Redirect.SetEndpoints(ctx, d.redirectEndpoints()); err != nil {
			return fmt.Errorf("set protected endpoints: %w", err)
		}
		stop, err := d.startGuard(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}

	errc := make(chan error, 2)
	running := 0
	if cfg.Metrics.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics listen: %w", err)
		}
		running++
		go func() { errc <- d.Metrics.ServeListener(ctx, ln) }()
	}
	for _, e := range cfg.Endpoints {
		log.Info("listening", "endpoint", e.Name, "addr", d.Proxy.Addr(e.Name).String(), "upstream", e.Upstream.Address)
	}
	go d.reloadOnSIGHUP(ctx, opts.ConfigPath)
	if opts.Ready != nil {
		opts.Ready(d)
	}
	running += 2
	go func() { errc <- d.Proxy.Serve(ctx) }()
	go func() { errc <- d.Control.Serve(ctx) }()
	select {
	case <-ctx.Done():
	case err = <-errc:
		running--
	}
	// Stop everything; Serve returns once every session has ended.
	cancel()
	for ; running > 0; running-- {
		err = errors.Join(err, <-errc)
	}
	log.Info("interlockd stopped")
	return err
}

// sizeScheduler applies limits.cpus and limits.adaptive_cpus (filled in by
// Validate): the GOMAXPROCS environment variable wins; adaptive sizing runs
// until ctx ends (daemon/procs), up to cpus when set; otherwise a positive
// cpus fixes the Ps.
func sizeScheduler(ctx context.Context, l config.Limits, log *slog.Logger) {
	switch {
	case os.Getenv("GOMAXPROCS") != "":
		log.Info("GOMAXPROCS set in the environment; limits.cpus and limits.adaptive_cpus ignored", "gomaxprocs", runtime.GOMAXPROCS(0))
	case *l.AdaptiveCPUs:
		go procs.Run(ctx, procs.Config{Max: l.CPUs, Bulk: rawio.BulkBytes, Logger: log})
	case l.CPUs > 0:
		runtime.GOMAXPROCS(l.CPUs)
	}
}
