package alerts

import (
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
)

// AuditReason is the "reason" of the audit records of bypass alerts.
const AuditReason = "bypass_attempt"

// AuditBody fills b with the audit record of an alert: type "alert",
// reason "bypass_attempt", and the alert's fields (absent identity fields
// are left out). The Log adds seq, time and the chain.
func AuditBody(a Alert, b *audit.Body) {
	b.Reset(audit.TypeAlert)
	b.Str("reason", AuditReason).
		Str("kind", string(a.Kind)).
		Str("action", string(a.Action)).
		Uint("count", a.Count).
		Uint("alert_seq", a.Seq).
		Str("alert_time", a.Time.UTC().Format(time.RFC3339Nano))
	if a.Host != "" {
		b.Str("host", a.Host)
	}
	if a.PID != 0 {
		b.Uint("pid", uint64(a.PID)).Str("comm", a.Comm)
	}
	if a.Exe != "" {
		b.Str("exe", a.Exe)
	}
	if len(a.Cmdline) > 0 {
		b.Strs("cmdline", a.Cmdline)
	}
	if a.UID != nil {
		b.Uint("uid", uint64(*a.UID))
	}
	if a.GID != nil {
		b.Uint("gid", uint64(*a.GID))
	}
	if a.Cgroup != "" {
		b.Str("cgroup", a.Cgroup)
	}
	if a.CgroupID != 0 {
		b.Uint("cgroup_id", a.CgroupID)
	}
	if a.Netns != 0 {
		b.Uint("netns", a.Netns)
	}
	for _, f := range []struct{ k, v string }{
		{"source", a.Source}, {"destination", a.Destination}, {"protocol", a.Protocol},
		{"socket_type", a.SocketType}, {"interface", a.Interface},
	} {
		if f.v != "" {
			b.Str(f.k, f.v)
		}
	}
}

// auditWriter writes alert records with one reused Body (the delivery
// worker is its only user).
type auditWriter struct {
	sink AuditSink
	body audit.Body
}

func (w *auditWriter) write(a Alert) error {
	if w.sink == nil {
		return nil
	}
	AuditBody(a, &w.body)
	return w.sink.Write(w.body)
}
