package analysis

// The pg_query_go wrapper has no parser options, but the libpg_query it
// bundles does. The declarations below mirror pg_query.h of
// github.com/pganalyze/pg_query_go/v6 (parser/include/pg_query.h); the
// symbols are linked from that module's parser package, which pg_query_go
// (imported below) imports.

/*
#include <stdlib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	char* message;
	char* funcname;
	char* filename;
	int lineno;
	int cursorpos;
	char* context;
} PgQueryError;

typedef struct {
	size_t len;
	char* data;
} PgQueryProtobuf;

typedef struct {
	PgQueryProtobuf parse_tree;
	char* stderr_buffer;
	PgQueryError* error;
} PgQueryProtobufParseResult;

typedef struct {
	PgQueryProtobuf pbuf;
	char* stderr_buffer;
	PgQueryError* error;
} PgQueryScanResult;

typedef struct {
	uint64_t fingerprint;
	char* fingerprint_str;
	char* stderr_buffer;
	PgQueryError* error;
} PgQueryFingerprintResult;

#define PG_QUERY_DISABLE_STANDARD_CONFORMING_STRINGS 32

PgQueryProtobufParseResult pg_query_parse_protobuf_opts(const char* input, int parser_options);
void pg_query_free_protobuf_parse_result(PgQueryProtobufParseResult result);
PgQueryFingerprintResult pg_query_fingerprint_opts(const char* input, int parser_options);
void pg_query_free_fingerprint_result(PgQueryFingerprintResult result);
PgQueryScanResult pg_query_scan(const char* input);
void pg_query_free_scan_result(PgQueryScanResult result);

// The scanner reads this GUC (thread-local in libpg_query) when it starts;
// pg_query_parse_opts sets it the same way.
extern __thread bool standard_conforming_strings;

// libpg_query sets standard_conforming_strings from the parser options but
// does not restore it when the parse fails, which leaves the thread's
// scanner (pg_query_scan, pg_query_split_with_scanner) lexing with scs off.
// These wrappers restore the default after every call.
static PgQueryProtobufParseResult interlock_parse(const char* input, int parser_options) {
	PgQueryProtobufParseResult r = pg_query_parse_protobuf_opts(input, parser_options);
	standard_conforming_strings = true;
	return r;
}

static PgQueryFingerprintResult interlock_fingerprint(const char* input, int parser_options) {
	PgQueryFingerprintResult r = pg_query_fingerprint_opts(input, parser_options);
	standard_conforming_strings = true;
	return r;
}

static PgQueryScanResult interlock_scan(const char* input, bool scs) {
	standard_conforming_strings = scs;
	PgQueryScanResult r = pg_query_scan(input);
	standard_conforming_strings = true;
	return r;
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// ParseError is a PostgreSQL parser (or scanner) error. It wraps ErrParse.
type ParseError struct {
	Message string
	// Position is the 1-based character position of the error in the text,
	// 0 when unknown.
	Position int
}

func (e *ParseError) Error() string {
	if e.Position > 0 {
		return fmt.Sprintf("parse: %s at position %d", e.Message, e.Position)
	}
	return "parse: " + e.Message
}

// Unwrap makes errors.Is(err, ErrParse) hold.
func (e *ParseError) Unwrap() error { return ErrParse }

func newParseError(e *C.PgQueryError) error {
	return &ParseError{Message: C.GoString(e.message), Position: int(e.cursorpos)}
}

// parserOptions returns libpg_query's parser options for opts.
func parserOptions(opts Options) C.int {
	if opts.StandardConformingStrings {
		return 0
	}
	return C.PG_QUERY_DISABLE_STANDARD_CONFORMING_STRINGS
}

// parse parses text into a tree. text must not contain NUL.
func parse(text string, popts C.int) (*pg_query.ParseResult, error) {
	cs := C.CString(text)
	defer C.free(unsafe.Pointer(cs))
	r := C.interlock_parse(cs, popts)
	defer C.pg_query_free_protobuf_parse_result(r)
	if r.error != nil {
		return nil, newParseError(r.error)
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(r.parse_tree.data)), int(r.parse_tree.len))
	tree := &pg_query.ParseResult{}
	if err := proto.Unmarshal(buf, tree); err != nil {
		return nil, &ParseError{Message: "decode parse tree: " + err.Error()}
	}
	return tree, nil
}

// fingerprint returns pg_query's fingerprint of text as hex.
func fingerprint(text string, popts C.int) (string, error) {
	cs := C.CString(text)
	defer C.free(unsafe.Pointer(cs))
	r := C.interlock_fingerprint(cs, popts)
	defer C.pg_query_free_fingerprint_result(r)
	if r.error != nil {
		return "", newParseError(r.error)
	}
	return C.GoString(r.fingerprint_str), nil
}

// scan returns the tokens of text as the server's lexer sees them with
// standard_conforming_strings set to scs.
func scan(text string, scs bool) ([]*pg_query.ScanToken, error) {
	cs := C.CString(text)
	defer C.free(unsafe.Pointer(cs))
	r := C.interlock_scan(cs, C.bool(scs))
	defer C.pg_query_free_scan_result(r)
	if r.error != nil {
		return nil, newParseError(r.error)
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(r.pbuf.data)), int(r.pbuf.len))
	var res pg_query.ScanResult
	if err := proto.Unmarshal(buf, &res); err != nil {
		return nil, &ParseError{Message: "decode tokens: " + err.Error()}
	}
	return res.Tokens, nil
}
