package mask

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// CopyFormat is the FORMAT of a COPY ... TO STDOUT.
type CopyFormat uint8

const (
	// CopyText is the default text format.
	CopyText CopyFormat = iota
	// CopyCSV is FORMAT csv.
	CopyCSV
	// CopyBinary is FORMAT binary.
	CopyBinary
)

// DefaultMaxRow bounds the bytes of a row split across CopyData messages.
const DefaultMaxRow = 64 << 20

// CopyOptions are the options of the COPY statement; zero fields take
// PostgreSQL's defaults.
type CopyOptions struct {
	// Format of the data.
	Format CopyFormat
	// Delimiter separates columns: default tab (text) or ',' (csv). An
	// ASCII character.
	Delimiter byte
	// Quote quotes csv values: default '"'.
	Quote byte
	// Escape escapes Quote and itself inside quoted csv values: default
	// Quote.
	Escape byte
	// Null is the NULL option's string; nil means the default, `\N` (text)
	// or "" (csv).
	Null *string
	// Header says the statement has HEADER: the first line (text, csv) is
	// the column names and is passed through.
	Header bool
	// MaxRow bounds a row split across CopyData messages (PostgreSQL sends
	// one row per message, so only an odd stream needs it); default
	// DefaultMaxRow.
	MaxRow int
}

// validate checks o and fills defaults.
func (o *CopyOptions) validate() error {
	switch o.Format {
	case CopyText:
		if o.Delimiter == 0 {
			o.Delimiter = '\t'
		}
		if strings.IndexByte("\\.abcdefghijklmnopqrstuvwxyz0123456789", o.Delimiter) >= 0 {
			return fmt.Errorf("delimiter %q is not allowed in text format", o.Delimiter)
		}
		if o.Null == nil {
			null := `\N`
			o.Null = &null
		}
	case CopyCSV:
		if o.Delimiter == 0 {
			o.Delimiter = ','
		}
		if o.Quote == 0 {
			o.Quote = '"'
		}
		if o.Escape == 0 {
			o.Escape = o.Quote
		}
		if o.Quote == o.Delimiter {
			return fmt.Errorf("delimiter and quote are both %q", o.Quote)
		}
		if o.Quote >= 0x80 || o.Escape >= 0x80 || o.Quote == '\n' || o.Quote == '\r' || o.Escape == '\n' || o.Escape == '\r' {
			return fmt.Errorf("quote %q or escape %q is not allowed", o.Quote, o.Escape)
		}
		if o.Null == nil {
			null := ""
			o.Null = &null
		}
		if strings.IndexByte(*o.Null, o.Quote) >= 0 {
			return fmt.Errorf("null string %q contains the quote", *o.Null)
		}
	case CopyBinary:
		if o.Header {
			return fmt.Errorf("header is not allowed in binary format")
		}
		return o.validateMaxRow()
	default:
		return fmt.Errorf("unknown copy format %d", o.Format)
	}
	if o.Delimiter >= 0x80 || o.Delimiter == '\n' || o.Delimiter == '\r' {
		return fmt.Errorf("delimiter %q is not allowed", o.Delimiter)
	}
	if strings.ContainsAny(*o.Null, "\r\n") {
		return fmt.Errorf("null string %q contains a newline", *o.Null)
	}
	if strings.IndexByte(*o.Null, o.Delimiter) >= 0 {
		return fmt.Errorf("null string %q contains the delimiter", *o.Null)
	}
	return o.validateMaxRow()
}

func (o *CopyOptions) validateMaxRow() error {
	if o.MaxRow < 0 {
		return fmt.Errorf("max row %d is negative", o.MaxRow)
	}
	if o.MaxRow == 0 {
		o.MaxRow = DefaultMaxRow
	}
	return nil
}

// CopyPlan rewrites the CopyData messages of one COPY ... TO STDOUT. It
// keeps state across messages (the header, a row split across messages,
// the end); build one per COPY with NewCopyPlan. A CopyPlan is not safe
// for concurrent use.
type CopyPlan struct {
	opts CopyOptions
	null string
	cols []colPlan
	// lastMasked is the index of the last masked column, -1 for none.
	lastMasked int
	// enc holds each opConst column's output encoded for text or csv.
	enc [][]byte
	m   masker
	// carry is the unfinished row of the previous messages.
	carry []byte
	// field and out are scratch buffers for one decoded value and its mask.
	field, out []byte
	// spans are the fields of the current csv row.
	spans []csvSpan
	// special marks the bytes that need an escape (text) or quotes (csv)
	// in a value, and that end a field or start a quote when reading csv.
	special [256]bool
	// header: the header (line or binary signature) is still to come.
	header bool
	// done: the end-of-data marker or binary trailer has been seen.
	done bool
	// err is the first error; the plan refuses everything after it.
	err error
	// rows counts the data rows rewritten, for the tests.
	rows int
}

// NewCopyPlan compiles cols, one per column of the COPY output in order,
// for the format in opts. h supplies the Hash key and may be nil when no
// column hashes. Column.Format is ignored.
func NewCopyPlan(opts CopyOptions, cols []Column, h *Hasher) (*CopyPlan, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("new copy mask plan: %w", err)
	}
	if len(cols) > math.MaxInt16 {
		return nil, fmt.Errorf("new copy mask plan: %d columns", len(cols))
	}
	p := &CopyPlan{
		opts:       opts,
		cols:       make([]colPlan, len(cols)),
		enc:        make([][]byte, len(cols)),
		header:     opts.Header || opts.Format == CopyBinary,
		lastMasked: -1,
	}
	if opts.Null != nil {
		p.null = *opts.Null
	}
	switch opts.Format {
	case CopyText:
		for _, ch := range []byte{'\\', '\b', '\f', '\n', '\r', '\t', '\v', opts.Delimiter} {
			p.special[ch] = true
		}
	case CopyCSV:
		for _, ch := range []byte{opts.Delimiter, opts.Quote, '\n', '\r'} {
			p.special[ch] = true
		}
	}
	for i, c := range cols {
		cp, err := compile(c, opts.Format == CopyBinary)
		if err != nil {
			return nil, fmt.Errorf("new copy mask plan: column %d: %w", i, err)
		}
		if cp.op != opKeep {
			p.lastMasked = i
		}
		p.cols[i] = cp
		if cp.op == opConst {
			p.enc[i] = p.encode(nil, cp.value, cp.null)
		}
	}
	var err error
	if p.m, err = newMasker(p.cols, h); err != nil {
		return nil, fmt.Errorf("new copy mask plan: %w", err)
	}
	return p, nil
}

// AppendCopyData rewrites the data of one CopyData message (the bytes after
// the type byte and length) and appends the masked rows it completes as
// one CopyData message, type 'd' and length included, to dst; nothing when
// it completes none. An unfinished row is kept for the next call, up to
// CopyOptions.MaxRow bytes. On error dst is returned unchanged in length,
// and every later call fails too.
func (p *CopyPlan) AppendCopyData(dst, body []byte) ([]byte, error) {
	if p.err != nil {
		return dst, p.err
	}
	data := body
	if len(p.carry) > 0 {
		p.carry = append(p.carry, body...)
		data = p.carry
	}
	start := len(dst)
	dst = append(dst, 'd', 0, 0, 0, 0)
	var n int
	var err error
	switch p.opts.Format {
	case CopyText:
		dst, n, err = p.textRows(dst, data)
	case CopyCSV:
		dst, n, err = p.csvRows(dst, data)
	default:
		dst, n, err = p.binaryRows(dst, data)
	}
	if err == nil && len(data)-n > p.opts.MaxRow {
		err = fmt.Errorf("%w: unfinished row of %d bytes", ErrTooLarge, len(data)-n)
	}
	if size := len(dst) - start - 1; err == nil && size > math.MaxInt32 {
		err = fmt.Errorf("%w: %d bytes", ErrTooLarge, size)
	}
	if err != nil {
		p.err = fmt.Errorf("mask copy data: %w", err)
		p.carry = nil
		return dst[:start], p.err
	}
	if len(p.carry) > 0 {
		p.carry = p.carry[:copy(p.carry, data[n:])]
	} else {
		p.carry = append(p.carry, data[n:]...)
	}
	if len(p.carry) == 0 && cap(p.carry) > 1<<20 {
		p.carry = nil
	}
	if len(dst) == start+5 {
		return dst[:start], nil
	}
	binary.BigEndian.PutUint32(dst[start+1:], uint32(len(dst)-start-1))
	return dst, nil
}

// Finish checks, at CopyDone, that the stream ended cleanly: no unfinished
// row and, in binary format, the trailer seen.
func (p *CopyPlan) Finish() error {
	switch {
	case p.err != nil:
		return p.err
	case len(p.carry) > 0:
		return fmt.Errorf("mask copy data: %w: %d bytes of an unfinished row at the end", ErrMalformed, len(p.carry))
	case p.opts.Format == CopyBinary && !p.done:
		return fmt.Errorf("mask copy data: %w: no binary trailer", ErrMalformed)
	}
	return nil
}
