package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/recording"
)

// defaultAuditPath is where the packaged configuration puts the audit log.
const defaultAuditPath = "/var/log/interlock/audit.jsonl"

// errUnknownSession: the session is in neither the audit log nor the
// recordings.
var errUnknownSession = errors.New("unknown session")

// runReplay implements `interlock replay SESSION_ID [--audit FILE|DIR]
// [--recordings DIR] [--rows N] [--json]`: the session's audit records
// (with the approval records its statements refer to) and its recording,
// as one timeline.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("interlock replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	auditPath := fs.String("audit", defaultAuditPath, "the audit log: the live file (its rotated predecessors are read too) or its directory")
	recDir := fs.String("recordings", "", "the session recordings directory (default: sessions/ beside the audit log)")
	rows := fs.Int("rows", 10, "rows shown per result; -1 shows every recorded row")
	asJSON := fs.Bool("json", false, "print the records and recorded rows as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: interlock replay SESSION_ID [--audit FILE|DIR] [--recordings DIR] [--rows N] [--json]")
		fs.PrintDefaults()
	}
	var ids []string
	for {
		if err := fs.Parse(args); err != nil {
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		ids, args = append(ids, fs.Arg(0)), fs.Args()[1:]
	}
	if len(ids) != 1 || !recording.ValidSessionID(ids[0]) {
		fmt.Fprintln(stderr, "interlock replay: one session id is required (as in the audit records' \"session\")")
		fs.Usage()
		return exitUsage
	}
	if *recDir == "" {
		*recDir = recording.DefaultDir(*auditPath)
		if st, err := os.Stat(*auditPath); err == nil && st.IsDir() {
			*recDir = filepath.Join(*auditPath, "sessions")
		}
	}
	rp, err := loadReplay(ctx, ids[0], *auditPath, *recDir, *rows)
	if err != nil {
		return fail(stderr, "replay", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rp); err != nil {
			return fail(stderr, "replay", err)
		}
		return exitOK
	}
	printReplay(stdout, rp)
	return exitOK
}

// replay is one session put back together.
type replay struct {
	SessionID     string           `json:"session_id"`
	AuditFiles    []string         `json:"audit_files"`
	Start         json.RawMessage  `json:"session_start,omitempty"`
	End           json.RawMessage  `json:"session_end,omitempty"`
	RecordingFile string           `json:"recording_file,omitempty"`
	Recording     *recordingStatus `json:"recording,omitempty"`
	Timeline      []*event         `json:"timeline"`
	Notes         []string         `json:"notes,omitempty"`

	start, end record
}

// recordingStatus is what the recording says about itself.
type recordingStatus struct {
	Meta      recording.Meta        `json:"meta"`
	Truncated *recording.Truncation `json:"truncated,omitempty"`
	End       *recording.End        `json:"end,omitempty"`
	TornTail  bool                  `json:"torn_tail,omitempty"`
	BadLines  int                   `json:"bad_lines,omitempty"`
}

// event is one entry of the timeline: an audit record (a statement with
// its result and what the recording holds of it, an approval step, the
// session's end...) or a line only the recording has (a notice).
type event struct {
	Time     time.Time            `json:"time"`
	Seq      *uint64              `json:"seq,omitempty"`
	Type     string               `json:"type"`
	Stmt     uint64               `json:"stmt,omitempty"`
	Record   json.RawMessage      `json:"record,omitempty"`
	Result   json.RawMessage      `json:"result,omitempty"`
	Recorded *recording.Statement `json:"recorded,omitempty"`
	Notice   string               `json:"notice,omitempty"`

	rec, res record
}

// record is a decoded audit record.
type record map[string]any

// approvalTypes are the records of the approval flow, found by request_id.
var approvalTypes = []string{audit.TypeApprovalRequest, audit.TypeApproval, audit.TypeRejection, audit.TypeExpiry, "withdrawal"}

func loadReplay(ctx context.Context, id, auditPath, recDir string, rows int) (*replay, error) {
	files, err := audit.ResolveFiles([]string{auditPath})
	if err != nil {
		return nil, err
	}
	rp := &replay{SessionID: id, AuditFiles: files}
	quoted := []byte(`"` + id + `"`)
	requests := map[string]bool{}
	seen := map[uint64]bool{}
	var results []*event
	// Pass 1: the session's own records, and the approval requests they name.
	err = scanAudit(ctx, files, func(line []byte) bool { return bytes.Contains(line, quoted) }, func(raw []byte, r record) {
		if r.str("session") != id && r.str("session_id") != id {
			return
		}
		seen[r.seq()] = true
		e := &event{Time: r.time(), Seq: ptr(r.seq()), Type: r.str("type"), Record: raw, rec: r}
		e.Stmt, _ = r.uint("stmt")
		switch e.Type {
		case audit.TypeSessionStart:
			rp.Start, rp.start = raw, r
		case audit.TypeSessionEnd:
			rp.End, rp.end = raw, r
		case audit.TypeStatementResult:
			results = append(results, e)
			return
		case audit.TypeApprovalRequest:
			requests[r.str("request_id")] = true
		case audit.TypeStatement:
			if a := r.str("approval_id"); a != "" {
				requests[a] = true
			}
		}
		rp.Timeline = append(rp.Timeline, e)
	})
	if err != nil {
		return nil, err
	}
	// Pass 2: the approval records of those requests (an approval given in
	// another session, or a request made in one, for a non-blocking re-run).
	if len(requests) > 0 {
		var needles [][]byte
		for r := range requests {
			needles = append(needles, []byte(`"`+r+`"`))
		}
		match := func(line []byte) bool {
			return slices.ContainsFunc(needles, func(n []byte) bool { return bytes.Contains(line, n) })
		}
		err = scanAudit(ctx, files, match, func(raw []byte, r record) {
			if seen[r.seq()] || !slices.Contains(approvalTypes, r.str("type")) || !requests[r.str("request_id")] {
				return
			}
			rp.Timeline = append(rp.Timeline, &event{Time: r.time(), Seq: ptr(r.seq()), Type: r.str("type"), Record: raw, rec: r})
		})
		if err != nil {
			return nil, err
		}
	}
	sort.SliceStable(rp.Timeline, func(i, j int) bool { return *rp.Timeline[i].Seq < *rp.Timeline[j].Seq })
	stmts := map[uint64]*event{}
	for _, e := range rp.Timeline {
		if e.Type == audit.TypeStatement && e.Stmt > 0 {
			stmts[e.Stmt] = e
		}
	}
	for _, res := range results {
		if st := stmts[res.Stmt]; st != nil && st.Result == nil {
			st.Result, st.res = res.Record, res.rec
		} else {
			rp.Timeline = insertByTime(rp.Timeline, res)
		}
	}
	if err := rp.addRecording(filepath.Join(recDir, id+recording.Ext), rows, stmts); err != nil {
		return nil, err
	}
	if rp.start == nil && rp.Recording == nil && len(rp.Timeline) == 0 {
		return nil, fmt.Errorf("%w %s: not in the audit log (%s) nor in %s", errUnknownSession, id, describeFiles(files), recDir)
	}
	if rp.start == nil {
		rp.Notes = append(rp.Notes, "no session_start record: the audit files read do not cover the session's start (pruned, or another node's log?)")
	}
	if rp.end == nil {
		rp.Notes = append(rp.Notes, "no session_end record: the session is still open, or interlockd stopped before recording its end")
	}
	return rp, nil
}

// addRecording reads the session's recording, if any, into the timeline.
func (rp *replay) addRecording(path string, rows int, stmts map[uint64]*event) error {
	rec, err := recording.ReadFile(path, recording.ReadOptions{MaxRows: rows})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rp.Notes = append(rp.Notes, "no recording: result recording is off for this endpoint, or the file was removed ("+path+")")
		return nil
	case err != nil:
		rp.Notes = append(rp.Notes, fmt.Sprintf("recording unreadable: %v", err))
		return nil
	}
	rp.RecordingFile = path
	rp.Recording = &recordingStatus{Meta: rec.Meta, Truncated: rec.Truncated, End: rec.End, TornTail: rec.TornTail, BadLines: rec.BadLines}
	if rec.Meta.Session != rp.SessionID {
		rp.Notes = append(rp.Notes, fmt.Sprintf("the recording names session %q", rec.Meta.Session))
	}
	for _, st := range rec.Statements {
		if e := stmts[st.Stmt]; e != nil {
			e.Recorded = st
			continue
		}
		rp.Notes = append(rp.Notes, fmt.Sprintf("statement #%d is in the recording but not in the audit files read", st.Stmt))
		rp.Timeline = insertByTime(rp.Timeline, &event{Time: st.Time, Type: audit.TypeStatement, Stmt: st.Stmt, Recorded: st})
	}
	for _, n := range rec.Notices {
		rp.Timeline = insertByTime(rp.Timeline, &event{Time: n.Time, Type: "notice", Notice: n.Message})
	}
	if t := rec.Truncated; t != nil {
		rp.Timeline = insertByTime(rp.Timeline, &event{Time: t.Time, Type: "recording_truncated", Stmt: t.Stmt})
	}
	if rec.End == nil {
		rp.Notes = append(rp.Notes, "the recording has no end line: the session is still open, interlockd stopped abruptly, or a write failed")
	}
	if rec.TornTail || rec.BadLines > 0 {
		rp.Notes = append(rp.Notes, fmt.Sprintf("the recording is damaged: %d undecodable line(s), incomplete last line: %v", rec.BadLines, rec.TornTail))
	}
	return nil
}

// insertByTime puts e after the events at or before its time.
func insertByTime(tl []*event, e *event) []*event {
	i := len(tl)
	for i > 0 && tl[i-1].Time.After(e.Time) {
		i--
	}
	return slices.Insert(tl, i, e)
}

// scanAudit calls fn for every line of the chain that match accepts and
// that decodes as a JSON object with a seq.
func scanAudit(ctx context.Context, files []string, match func([]byte) bool, fn func(raw []byte, r record)) error {
	for _, name := range files {
		if err := scanFile(ctx, name, match, fn); err != nil {
			return err
		}
	}
	return nil
}

func scanFile(ctx context.Context, name string, match func([]byte) bool, fn func(raw []byte, r record)) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open audit file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for n := 0; sc.Scan(); n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line := sc.Bytes()
		if !match(line) {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var r record
		if dec.Decode(&r) != nil || r["seq"] == nil {
			continue // verify reports damage; replay shows what it can read
		}
		fn(slices.Clone(line), r)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

func describeFiles(files []string) string {
	if len(files) == 1 {
		return files[0]
	}
	return fmt.Sprintf("%d files, %s to %s", len(files), files[0], files[len(files)-1])
}

func ptr[T any](v T) *T { return &v }

func (r record) str(k string) string {
	s, _ := r[k].(string)
	return s
}

func (r record) uint(k string) (uint64, bool) {
	n, ok := r[k].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(n.String(), 10, 64)
	return v, err == nil
}

func (r record) seq() uint64 {
	v, _ := r.uint("seq")
	return v
}

func (r record) time() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, r.str("time"))
	return t
}

func (r record) strs(k string) []string {
	vs, _ := r[k].([]any)
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// duration reads a nanosecond count under k or k+"_ns".
func (r record) duration(k string) (time.Duration, bool) {
	for _, key := range []string{k, k + "_ns"} {
		if v, ok := r.uint(key); ok {
			return time.Duration(v), true
		}
	}
	return 0, false
}
