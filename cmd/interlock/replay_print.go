package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/recording"
)

// indent is the width of the time column of the timeline.
const indent = "              "

// printReplay writes the session's header, its timeline and notes. Every
// string from the records is untrusted: clean escapes control and
// bidirectional characters before they reach the terminal.
func printReplay(w io.Writer, rp *replay) {
	printHeader(w, rp)
	fmt.Fprintln(w, "\nTimeline (UTC)")
	var day string
	if rp.start != nil {
		day = rp.start.time().UTC().Format(time.DateOnly)
	}
	for _, e := range rp.Timeline {
		if d := e.Time.UTC().Format(time.DateOnly); d != day {
			fmt.Fprintf(w, "-- %s --\n", d)
			day = d
		}
		fmt.Fprintf(w, "%-14s", e.Time.UTC().Format("15:04:05.000"))
		printEvent(w, rp, e)
	}
	if len(rp.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes")
		for _, n := range rp.Notes {
			fmt.Fprintf(w, "- %s\n", clean(n, false))
		}
	}
	fmt.Fprintf(w, "\nReplay reads the records as they are; `interlock audit verify %s` checks that the chain is intact.\n", rp.AuditFiles[len(rp.AuditFiles)-1])
}

func printHeader(w io.Writer, rp *replay) {
	fmt.Fprintf(w, "Session %s\n", rp.SessionID)
	s := rp.start
	if s == nil {
		s = record{}
		if m := rp.Recording; m != nil {
			s = record{"user": m.Meta.User, "endpoint": m.Meta.Endpoint, "database": m.Meta.Database}
		}
	}
	field := func(name string, parts ...string) {
		parts = slices.DeleteFunc(parts, func(p string) bool { return p == "" })
		if len(parts) > 0 {
			fmt.Fprintf(w, "  %-10s %s\n", name, clean(strings.Join(parts, " · "), false))
		}
	}
	field("user", join(s.str("user"), paren(s.str("email"))), prefixed("groups ", strings.Join(s.strs("groups"), ", ")))
	field("auth", s.str("auth"), prefixed("issuer ", s.str("issuer")))
	var origin []string
	if pid, ok := s.uint("pid"); ok {
		uid, _ := s.uint("uid")
		origin = append(origin, fmt.Sprintf("%s pid %d uid %d", s.str("comm"), pid, uid))
	}
	origin = append(origin, prefixed("exe ", s.str("exe")), prefixed("cgroup ", s.str("cgroup")), prefixed("container ", s.str("container")))
	field("origin", origin...)
	field("client", s.str("client_addr"), prefixed("application ", s.str("application_name")), prefixed("original destination ", s.str("original_destination")))
	field("target", prefixed("endpoint ", s.str("endpoint")), prefixed("database ", s.str("database")), prefixed("as ", s.str("upstream_user")))
	if rp.start != nil {
		field("started", stamp(rp.start.time()))
	}
	if e := rp.end; e != nil {
		n, _ := e.uint("statements")
		d, _ := e.duration("duration")
		field("ended", stamp(e.time()), e.str("reason"), "after "+fmtDuration(d), fmt.Sprintf("%d statements", n))
	}
	if r := rp.Recording; r != nil {
		var state string
		switch {
		case r.Truncated != nil:
			state = fmt.Sprintf("truncated at statement #%d (size limit)", r.Truncated.Stmt)
		case r.End == nil:
			state = "no end line"
		}
		var rows string
		if r.End != nil {
			rows = fmt.Sprintf("%d rows recorded, %d not", r.End.RowsRecorded, r.End.RowsDropped)
		}
		field("recording", rp.RecordingFile, rows, state)
	}
}

func printEvent(w io.Writer, rp *replay, e *event) {
	r := e.rec
	if r == nil {
		r = record{}
	}
	line := func(format string, args ...any) {
		fmt.Fprintf(w, indent+format+"\n", args...)
	}
	id := clean(r.str("request_id"), false)
	switch e.Type {
	case audit.TypeStatement:
		printStatementEvent(w, rp, e)
	case audit.TypeStatementResult:
		fmt.Fprintf(w, "#%d result\n", e.Stmt)
		printResult(w, e.rec, nil)
	case audit.TypeApprovalRequest:
		fmt.Fprintf(w, "approval requested  %s by %s (%s)\n", id, clean(r.str("requester"), false), clean(r.str("mode"), false))
		if sid := r.str("session_id"); sid != rp.SessionID {
			line("in session %s: %s", clean(sid, false), clean(oneLine(r.str("statement"), 200), false))
		}
		line("reason: %s", quote(r.str("reason")))
		line("approvers: %s · expires %s", clean(strings.Join(r.strs("approver_groups"), ", "), false), when(r.str("expires_at")))
	case audit.TypeApproval:
		fmt.Fprintf(w, "approved  %s by %s via %s\n", id, clean(join(r.str("approver"), paren(r.str("approver_email"))), false), clean(r.str("via"), false))
		if c := r.str("comment"); c != "" {
			line("comment: %s", quote(c))
		}
		line("may run once until %s", when(r.str("valid_until")))
	case audit.TypeRejection:
		fmt.Fprintf(w, "rejected  %s by %s via %s\n", id, clean(join(r.str("rejected_by"), paren(r.str("rejected_by_email"))), false), clean(r.str("via"), false))
		line("reason: %s", quote(r.str("reason")))
	case "withdrawal":
		fmt.Fprintf(w, "withdrawn  %s by %s via %s (was %s)\n", id, clean(r.str("withdrawn_by"), false), clean(r.str("via"), false), clean(r.str("was"), false))
		line("reason: %s", quote(r.str("reason")))
	case audit.TypeExpiry:
		fmt.Fprintf(w, "expired  %s (was %s)\n", id, clean(r.str("was"), false))
		line("reason: %s", quote(r.str("reason")))
	case audit.TypeSessionStart:
		fmt.Fprintf(w, "session started (%s)\n", clean(r.str("auth"), false))
	case audit.TypeSessionEnd:
		n, _ := r.uint("statements")
		d, _ := r.duration("duration")
		fmt.Fprintf(w, "session ended: %s after %s, %d statements\n", clean(r.str("reason"), false), fmtDuration(d), n)
	case "notice":
		fmt.Fprintf(w, "notice: %s\n", clean(e.Notice, false))
	case "recording_truncated":
		fmt.Fprintf(w, "recording truncated at statement #%d: the size limit was reached, later rows are not recorded\n", e.Stmt)
	default:
		keys := make([]string, 0, len(r))
		for k := range r {
			switch k {
			case "seq", "time", "prev", "type", "session", "session_id":
			default:
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + fmt.Sprint(r[k])
		}
		fmt.Fprintf(w, "%s  %s\n", clean(e.Type, false), clean(strings.Join(parts, " "), false))
	}
}

func printStatementEvent(w io.Writer, rp *replay, e *event) {
	r, rec := e.rec, e.Recorded
	text := r.str("text")
	decision := clean(r.str("decision"), false)
	if r == nil {
		decision = "(recording only)"
		text = rec.Text
	} else if text == "" && rec != nil {
		text = rec.Text
	}
	textLines := strings.Split(clean(strings.TrimRight(text, "\n"), true), "\n")
	fmt.Fprintf(w, "#%d %s  %s\n", e.Stmt, decision, textLines[0])
	for _, l := range textLines[1:] {
		fmt.Fprintf(w, "%s    %s\n", indent, l)
	}
	if r != nil {
		var details []string
		if reason := r.str("reason"); reason != "" {
			details = append(details, "reason: "+quote(reason))
		}
		if kinds := r.strs("kinds"); len(kinds) > 0 {
			details = append(details, "kinds "+strings.Join(kinds, ", "))
		}
		if t := r.strs("tables_read"); len(t) > 0 {
			details = append(details, "reads "+strings.Join(t, ", "))
		}
		if t := r.strs("tables_written"); len(t) > 0 {
			details = append(details, "writes "+strings.Join(t, ", "))
		}
		if len(details) > 0 {
			fmt.Fprintf(w, "%s%s\n", indent, clean(strings.Join(details, " · "), false))
		}
		if a := r.str("approval_id"); a != "" {
			fmt.Fprintf(w, "%sapproval %s: approved by %s via %s\n", indent, clean(a, false), clean(r.str("approved_by"), false), clean(r.str("approval_via"), false))
		}
	}
	if r.str("decision") == "deny" && e.res == nil && (rec == nil || rec.Result == nil) {
		return // refused: it never ran
	}
	printResult(w, e.res, rec)
	if rec != nil {
		printRows(w, rec)
	}
}

// printResult prints how a statement ended, from its statement_result
// record, else from the recording.
func printResult(w io.Writer, res record, rec *recording.Statement) {
	var parts []string
	switch {
	case res != nil:
		switch status := res.str("status"); {
		case res.str("error_code") != "" || res.str("error") != "":
			parts = append(parts, "error "+res.str("error_code")+": "+res.str("error"))
		case status == "not_run":
			parts = append(parts, "not run (an earlier statement of the query failed)")
		case status == "empty":
			parts = append(parts, "empty query")
		default:
			parts = append(parts, res.str("tag"))
			if status == "suspended" {
				parts = append(parts, "suspended (more rows to fetch)")
			}
		}
		if n, ok := res.uint("rows"); ok {
			parts = append(parts, fmt.Sprintf("%d rows", n))
		}
		if d, ok := res.duration("duration"); ok {
			parts = append(parts, fmtDuration(d))
		}
		if m := res.strs("masked"); len(m) > 0 {
			parts = append(parts, "masked "+strings.Join(m, ", "))
		}
		if m := res.strs("masked_unknown_provenance"); len(m) > 0 {
			parts = append(parts, "masked (unknown provenance) "+strings.Join(m, ", "))
		}
	case rec != nil && rec.Result != nil:
		if rec.Result.ErrorCode != "" || rec.Result.Error != "" {
			parts = append(parts, "error "+rec.Result.ErrorCode+": "+rec.Result.Error)
		} else {
			parts = append(parts, rec.Result.Tag)
		}
	default:
		parts = append(parts, "no result recorded (still running, or the session ended first)")
	}
	fmt.Fprintf(w, "%s→ %s\n", indent, clean(strings.Join(slices.DeleteFunc(parts, func(p string) bool { return p == "" }), " · "), false))
}

// printRows prints the first recorded rows as a table.
func printRows(w io.Writer, rec *recording.Statement) {
	if len(rec.Rows) > 0 {
		width := len(rec.Columns)
		for _, row := range rec.Rows {
			width = max(width, len(row))
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		head := make([]string, width)
		for i := range head {
			if i < len(rec.Columns) {
				head[i] = cell(rec.Columns[i])
			} else {
				head[i] = "?column" + strconv.Itoa(i+1) + "?"
			}
		}
		fmt.Fprintf(tw, "%s  %s\n", indent, strings.Join(head, "\t"))
		for _, row := range rec.Rows {
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = cell(v.String())
			}
			fmt.Fprintf(tw, "%s  %s\n", indent, strings.Join(cells, "\t"))
		}
		tw.Flush()
	}
	for _, c := range rec.Copy {
		fmt.Fprintf(w, "%s  %s\n", indent, cell(c.String()))
	}
	shown := uint64(len(rec.Rows) + len(rec.Copy))
	var more []string
	if rec.RowLines > shown {
		more = append(more, fmt.Sprintf("%d more recorded", rec.RowLines-shown))
	}
	if res := rec.Result; res != nil && res.RowsDropped > 0 {
		more = append(more, fmt.Sprintf("%d not recorded", res.RowsDropped))
	}
	if len(more) > 0 {
		fmt.Fprintf(w, "%s  (%s)\n", indent, strings.Join(more, ", "))
	}
}

// cell is a value for the table: cleaned, on one line, at most 40 runes.
func cell(s string) string {
	s = clean(s, false)
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:39]) + "…"
	}
	return s
}

// clean escapes what a terminal would interpret: control characters
// (except newline and tab when keepNL), C1 controls, line separators and
// bidirectional formatting characters.
func clean(s string, keepNL bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case keepNL && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x2028 && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func quote(s string) string { return `"` + clean(s, false) + `"` }

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	return s
}

func join(a, b string) string { return strings.TrimSpace(a + " " + b) }

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// when renders a timestamp member of a record.
func when(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return clean(s, false)
	}
	return stamp(t)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 MST") }

func fmtDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
