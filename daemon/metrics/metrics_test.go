package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// audit_records_total follows the audit chain's head, whoever wrote the
// records, and reads 0 before a chain is attached.
func TestAuditRecordsFollowHead(t *testing.T) {
	m := New()
	want := func(n string) {
		t.Helper()
		exp := "# HELP interlock_audit_records_total " + auditRecordsHelp + "\n# TYPE interlock_audit_records_total counter\ninterlock_audit_records_total " + n + "\n"
		if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(exp), "interlock_audit_records_total"); err != nil {
			t.Fatal(err)
		}
	}
	want("0")
	head := uint64(7)
	m.ObserveAuditHead(func() uint64 { return head })
	want("7")
	head = 12
	want("12")
}
