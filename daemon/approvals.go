package daemon

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/identity"
)

// startApprovals opens the approval store and starts the service.
func (d *Daemon) startApprovals(ctx context.Context, verifier *identity.Verifier) error {
	c := d.cfg.Approvals
	var err error
	switch c.Store.Kind {
	case "postgres":
		dsn := c.Store.DSN
		if c.Store.DSNFile != "" {
			b, err := os.ReadFile(c.Store.DSNFile)
			if err != nil {
				return fmt.Errorf("approval store dsn: %w", err)
			}
			dsn = strings.TrimSpace(string(b))
		}
		d.approvalStore, err = approval.NewPostgresStore(ctx, approval.PostgresConfig{
			DSN: dsn, Schema: c.Store.Schema, Table: c.Store.Table, Channel: c.Store.Channel, Logger: d.log,
		})
	default:
		d.approvalStore, err = approval.NewLocalStore(ctx, approval.LocalConfig{Path: c.Store.Path, Logger: d.log})
	}
	if err != nil {
		return fmt.Errorf("approval store: %w", err)
	}
	var hook *approval.WebhookConfig
	if c.Webhook.URL != "" {
		hook = &approval.WebhookConfig{URL: c.Webhook.URL, Timeout: c.Webhook.Timeout, QueueSize: c.Webhook.QueueSize}
		if c.Webhook.SecretFile != "" {
			b, err := os.ReadFile(c.Webhook.SecretFile)
			if err != nil {
				_ = d.approvalStore.Close()
				return fmt.Errorf("approval webhook secret: %w", err)
			}
			hook.Secret = strings.TrimSpace(string(b))
		}
	}
	d.Approvals, err = approval.New(ctx, approval.Config{
		Store: d.approvalStore, Audit: d.Audit, Node: c.NodeName,
		DefaultTimeout: c.DefaultTimeout, MaxTimeout: c.MaxTimeout, ApprovedTTL: c.ApprovedTTL, Retention: c.Retention,
		MaxStatementBytes: d.cfg.Audit.MaxStatementBytes, Webhook: hook, Logger: d.log,
	})
	if err != nil {
		_ = d.approvalStore.Close()
		return fmt.Errorf("approval service: %w", err)
	}
	return nil
}

func (d *Daemon) stopApprovals() {
	_ = d.Approvals.Close()
	_ = d.approvalStore.Close()
}
