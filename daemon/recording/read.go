package recording

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// Recording is a recording file read back.
type Recording struct {
	Meta Meta `json:"meta"`
	// Statements in order of first appearance.
	Statements []*Statement `json:"statements"`
	Notices    []Notice     `json:"notices,omitempty"`
	// Truncated is set when rows stopped at the size limit.
	Truncated *Truncation `json:"truncated,omitempty"`
	// End is nil when the file has no end line: the session is still
	// open, interlockd stopped abruptly, or a write failed.
	End *End `json:"end,omitempty"`
	// TornTail: the last line is incomplete (a cut write).
	TornTail bool `json:"torn_tail,omitempty"`
	// BadLines counts lines that could not be decoded and were skipped.
	BadLines int `json:"bad_lines,omitempty"`

	byStmt map[uint64]*Statement
}

// Meta is the session line.
type Meta struct {
	Version          int       `json:"version"`
	Session          string    `json:"session"`
	User             string    `json:"user"`
	Endpoint         string    `json:"endpoint"`
	Database         string    `json:"database"`
	Start            time.Time `json:"start"`
	MaxBytes         int64     `json:"max_bytes"`
	MaxRowsPerResult int       `json:"max_rows_per_result"`
	MaxValueBytes    int       `json:"max_value_bytes"`
}

// Statement is what the recording holds about one statement.
type Statement struct {
	Stmt          uint64    `json:"stmt"`
	Time          time.Time `json:"time,omitzero"`
	Text          string    `json:"text,omitempty"`
	TextTruncated bool      `json:"text_truncated,omitempty"`
	Columns       []string  `json:"columns,omitempty"`
	Formats       []int16   `json:"formats,omitempty"`
	// Rows are the first rows recorded (up to ReadOptions.MaxRows), Copy
	// the first COPY chunks.
	Rows [][]Value `json:"rows,omitempty"`
	Copy []Value   `json:"copy,omitempty"`
	// RowLines counts the row and copy lines in the file.
	RowLines uint64  `json:"row_lines"`
	Result   *Result `json:"result,omitempty"`
}

// Result is a result line.
type Result struct {
	Time         time.Time `json:"time,omitzero"`
	Tag          string    `json:"tag,omitempty"`
	ErrorCode    string    `json:"error_code,omitempty"`
	Error        string    `json:"error,omitempty"`
	RowsRecorded uint64    `json:"rows_recorded"`
	RowsDropped  uint64    `json:"rows_dropped,omitempty"`
}

// Notice is a notice line.
type Notice struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

// Truncation is the truncated line.
type Truncation struct {
	Time   time.Time `json:"time"`
	Stmt   uint64    `json:"stmt"`
	Reason string    `json:"reason"`
}

// End is the end line.
type End struct {
	Time         time.Time `json:"time"`
	Reason       string    `json:"reason"`
	RowsRecorded uint64    `json:"rows_recorded"`
	RowsDropped  uint64    `json:"rows_dropped"`
	LinesDropped uint64    `json:"lines_dropped"`
	Truncated    bool      `json:"truncated,omitempty"`
}

// Value is one recorded column value.
type Value struct {
	Null bool
	// Binary: the value is in binary format; otherwise text.
	Binary bool
	// Data is the value (cut when Len > 0).
	Data []byte
	// Len is the original length of a value that was cut; 0 if whole.
	Len int
}

// MarshalJSON encodes v as in the file.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.Null {
		return []byte("null"), nil
	}
	var format int16
	if v.Binary {
		format = 1
	}
	return appendData(nil, v.Data, format, max(v.Len, len(v.Data))), nil
}

// UnmarshalJSON decodes a value as written by Session.
func (v *Value) UnmarshalJSON(b []byte) error {
	*v = Value{}
	switch {
	case bytes.Equal(b, []byte("null")):
		v.Null = true
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v.Data = []byte(s)
		return nil
	}
	var o struct {
		Text   *string `json:"text"`
		Base64 *string `json:"base64"`
		Format string  `json:"format"`
		Len    int     `json:"len"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("recorded value: %w", err)
	}
	switch {
	case o.Text != nil:
		v.Data = []byte(*o.Text)
	case o.Base64 != nil:
		d, err := base64.StdEncoding.DecodeString(*o.Base64)
		if err != nil {
			return fmt.Errorf("recorded value: %w", err)
		}
		v.Data, v.Binary = d, o.Format != "text"
	default:
		return errors.New("recorded value: neither text nor base64")
	}
	v.Len = o.Len
	return nil
}

// ReadOptions bound what Read keeps.
type ReadOptions struct {
	// MaxRows is how many rows (and COPY chunks) to keep per statement;
	// 0 keeps none, negative keeps all.
	MaxRows int
}

// ReadFile reads a recording file.
func ReadFile(path string, opts ReadOptions) (*Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open recording: %w", err)
	}
	defer f.Close()
	return Read(f, opts)
}

// line is any line of a recording.
type line struct {
	T             string          `json:"t"`
	Stmt          uint64          `json:"stmt"`
	Time          time.Time       `json:"time"`
	Text          string          `json:"text"`
	TextTruncated bool            `json:"text_truncated"`
	Names         []string        `json:"names"`
	Formats       []int16         `json:"formats"`
	V             json.RawMessage `json:"v"`
	Message       string          `json:"message"`
	Reason        string          `json:"reason"`
}

// Read parses a recording. Lines it cannot decode are counted and skipped;
// an incomplete last line sets TornTail.
func Read(r io.Reader, opts ReadOptions) (*Recording, error) {
	rec := &Recording{byStmt: map[uint64]*Statement{}}
	br := bufio.NewReaderSize(r, 64<<10)
	first := true
	for {
		raw, err := br.ReadBytes('\n')
		if len(raw) > 0 && raw[len(raw)-1] != '\n' {
			rec.TornTail = true
			break
		}
		if len(raw) > 0 {
			if perr := rec.parse(raw[:len(raw)-1], first, opts); perr != nil {
				if first {
					return nil, fmt.Errorf("not a recording: %w", perr)
				}
				rec.BadLines++
			}
			first = false
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read recording: %w", err)
		}
	}
	if first {
		return nil, errors.New("not a recording: empty file")
	}
	return rec, nil
}

func (rec *Recording) parse(raw []byte, first bool, opts ReadOptions) error {
	var l line
	if err := json.Unmarshal(raw, &l); err != nil {
		return err
	}
	if first {
		if l.T != "session" {
			return fmt.Errorf("first line is %q, not session", l.T)
		}
		return json.Unmarshal(raw, &rec.Meta)
	}
	switch l.T {
	case "statement":
		st := rec.stmt(l.Stmt)
		st.Time, st.Text, st.TextTruncated = l.Time, l.Text, l.TextTruncated
	case "columns":
		st := rec.stmt(l.Stmt)
		st.Columns, st.Formats = l.Names, l.Formats
	case "row", "copy":
		st := rec.stmt(l.Stmt)
		st.RowLines++
		if opts.MaxRows >= 0 && st.RowLines > uint64(opts.MaxRows) {
			return nil
		}
		if l.T == "copy" {
			var v Value
			if err := json.Unmarshal(l.V, &v); err != nil {
				return err
			}
			st.Copy = append(st.Copy, v)
			return nil
		}
		var vs []Value
		if err := json.Unmarshal(l.V, &vs); err != nil {
			return err
		}
		st.Rows = append(st.Rows, vs)
	case "result":
		var r Result
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		rec.stmt(l.Stmt).Result = &r
	case "notice":
		rec.Notices = append(rec.Notices, Notice{Time: l.Time, Message: l.Message})
	case "truncated":
		rec.Truncated = &Truncation{Time: l.Time, Stmt: l.Stmt, Reason: l.Reason}
	case "end":
		var e End
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		rec.End = &e
	default:
		return fmt.Errorf("unknown line type %q", l.T)
	}
	return nil
}

// Statement returns what the recording holds about statement n, or nil.
func (rec *Recording) Statement(n uint64) *Statement { return rec.byStmt[n] }

func (rec *Recording) stmt(n uint64) *Statement {
	if st, ok := rec.byStmt[n]; ok {
		return st
	}
	st := &Statement{Stmt: n}
	rec.byStmt[n] = st
	rec.Statements = append(rec.Statements, st)
	return st
}

// String renders v for a table: the text, NULL, or \x and hex for binary
// data; "…" marks a cut value.
func (v Value) String() string {
	if v.Null {
		return "NULL"
	}
	var s string
	if v.Binary {
		s = `\x` + hexString(v.Data)
	} else {
		s = string(v.Data)
	}
	if v.Len > 0 {
		s += "… (" + strconv.Itoa(v.Len) + " bytes)"
	}
	return s
}

func hexString(b []byte) string {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return string(out)
}
