package mask

import (
	"encoding/binary"

	"github.com/jackc/pgx/v5/pgtype"
)

// typeKind groups types by how the dynamic strategies treat them.
type typeKind uint8

const (
	// kindUnknown has no redacted form: masked values become NULL.
	kindUnknown typeKind = iota
	// kindFixed has a redacted form and nothing else: Partial, Hash and
	// Email redact.
	kindFixed
	// kindText is text-like: the value is its characters in both formats.
	kindText
	// kindBPChar is char(n): text-like, trailing spaces are not significant.
	kindBPChar
	// kindJSON is json: text in both formats.
	kindJSON
	// kindJSONB is jsonb: text, prefixed with a version byte in binary.
	kindJSONB
	// kindBytea is bytea: raw bytes in binary, \x hex (or escape) in text.
	kindBytea
	// kindUUID is uuid: 16 bytes in binary, canonical text in text.
	kindUUID
)

// RedactedText is the marker Redact writes into text-like values (and, as
// a JSON string, into json and jsonb values).
const RedactedText = "****"

// typeInfo is what the package knows of one type.
type typeInfo struct {
	kind typeKind
	// text and bin are the redacted value in text and binary format.
	text string
	bin  []byte
	// maxBytes caps the bytes of a masked text value ("char": 1, name: 63).
	maxBytes int
	// typmodChars: the type modifier n+4 caps masked text at n characters.
	typmodChars bool
}

// Binary encodings of the redacted values.
var (
	// 1970-01-01 as days and microseconds since 2000-01-01.
	epochDate      = be32(-10957)
	epochTimestamp = be64(-946684800000000)
	// numeric 0: ndigits 0, weight 0, sign positive, dscale 0.
	numericZero = make([]byte, 8)
	// inet 0.0.0.0: family AF_INET (2), 32 bits, not cidr, 4 bytes.
	inetZero = []byte{2, 32, 0, 4, 0, 0, 0, 0}
	// cidr 0.0.0.0/0.
	cidrZero = []byte{2, 0, 1, 4, 0, 0, 0, 0}
)

// moneyOID and moneyArrayOID are not in pgtype.
const (
	moneyOID      = 790
	moneyArrayOID = 791
)

// scalarTypes are the types with a redacted form, by OID.
var scalarTypes = map[uint32]typeInfo{
	pgtype.TextOID:        {kind: kindText, text: RedactedText, bin: []byte(RedactedText)},
	pgtype.VarcharOID:     {kind: kindText, text: RedactedText, bin: []byte(RedactedText), typmodChars: true},
	pgtype.BPCharOID:      {kind: kindBPChar, text: RedactedText, bin: []byte(RedactedText), typmodChars: true},
	pgtype.NameOID:        {kind: kindText, text: RedactedText, bin: []byte(RedactedText), maxBytes: 63},
	pgtype.QCharOID:       {kind: kindText, text: RedactedText[:1], bin: []byte(RedactedText[:1]), maxBytes: 1},
	pgtype.UnknownOID:     {kind: kindText, text: RedactedText, bin: []byte(RedactedText)},
	pgtype.JSONOID:        {kind: kindJSON, text: `"` + RedactedText + `"`, bin: []byte(`"` + RedactedText + `"`)},
	pgtype.JSONBOID:       {kind: kindJSONB, text: `"` + RedactedText + `"`, bin: []byte("\x01\"" + RedactedText + `"`)},
	pgtype.ByteaOID:       {kind: kindBytea, text: `\x`, bin: []byte{}},
	pgtype.UUIDOID:        {kind: kindUUID, text: "00000000-0000-0000-0000-000000000000", bin: make([]byte, 16)},
	pgtype.BoolOID:        {kind: kindFixed, text: "f", bin: []byte{0}},
	pgtype.Int2OID:        {kind: kindFixed, text: "0", bin: make([]byte, 2)},
	pgtype.Int4OID:        {kind: kindFixed, text: "0", bin: make([]byte, 4)},
	pgtype.Int8OID:        {kind: kindFixed, text: "0", bin: make([]byte, 8)},
	pgtype.OIDOID:         {kind: kindFixed, text: "0", bin: make([]byte, 4)},
	moneyOID:              {kind: kindFixed, text: "0", bin: make([]byte, 8)},
	pgtype.Float4OID:      {kind: kindFixed, text: "0", bin: make([]byte, 4)},
	pgtype.Float8OID:      {kind: kindFixed, text: "0", bin: make([]byte, 8)},
	pgtype.NumericOID:     {kind: kindFixed, text: "0", bin: numericZero},
	pgtype.DateOID:        {kind: kindFixed, text: "1970-01-01", bin: epochDate},
	pgtype.TimeOID:        {kind: kindFixed, text: "00:00:00", bin: make([]byte, 8)},
	pgtype.TimetzOID:      {kind: kindFixed, text: "00:00:00+00", bin: make([]byte, 12)},
	pgtype.TimestampOID:   {kind: kindFixed, text: "1970-01-01 00:00:00", bin: epochTimestamp},
	pgtype.TimestamptzOID: {kind: kindFixed, text: "1970-01-01 00:00:00+00", bin: epochTimestamp},
	pgtype.IntervalOID:    {kind: kindFixed, text: "00:00:00", bin: make([]byte, 16)},
	pgtype.InetOID:        {kind: kindFixed, text: "0.0.0.0", bin: inetZero},
	pgtype.CIDROID:        {kind: kindFixed, text: "0.0.0.0/0", bin: cidrZero},
	pgtype.MacaddrOID:     {kind: kindFixed, text: "00:00:00:00:00:00", bin: make([]byte, 6)},
	pgtype.Macaddr8OID:    {kind: kindFixed, text: "00:00:00:00:00:00:00:00", bin: make([]byte, 8)},
}

// arrayElems maps the array types with a redacted form (the empty array)
// to their element type.
var arrayElems = map[uint32]uint32{
	pgtype.TextArrayOID:        pgtype.TextOID,
	pgtype.VarcharArrayOID:     pgtype.VarcharOID,
	pgtype.BPCharArrayOID:      pgtype.BPCharOID,
	pgtype.NameArrayOID:        pgtype.NameOID,
	pgtype.QCharArrayOID:       pgtype.QCharOID,
	pgtype.JSONArrayOID:        pgtype.JSONOID,
	pgtype.JSONBArrayOID:       pgtype.JSONBOID,
	pgtype.ByteaArrayOID:       pgtype.ByteaOID,
	pgtype.UUIDArrayOID:        pgtype.UUIDOID,
	pgtype.BoolArrayOID:        pgtype.BoolOID,
	pgtype.Int2ArrayOID:        pgtype.Int2OID,
	pgtype.Int4ArrayOID:        pgtype.Int4OID,
	pgtype.Int8ArrayOID:        pgtype.Int8OID,
	pgtype.OIDArrayOID:         pgtype.OIDOID,
	moneyArrayOID:              moneyOID,
	pgtype.Float4ArrayOID:      pgtype.Float4OID,
	pgtype.Float8ArrayOID:      pgtype.Float8OID,
	pgtype.NumericArrayOID:     pgtype.NumericOID,
	pgtype.DateArrayOID:        pgtype.DateOID,
	pgtype.TimeArrayOID:        pgtype.TimeOID,
	pgtype.TimetzArrayOID:      pgtype.TimetzOID,
	pgtype.TimestampArrayOID:   pgtype.TimestampOID,
	pgtype.TimestamptzArrayOID: pgtype.TimestamptzOID,
	pgtype.IntervalArrayOID:    pgtype.IntervalOID,
	pgtype.InetArrayOID:        pgtype.InetOID,
	pgtype.CIDRArrayOID:        pgtype.CIDROID,
	pgtype.MacaddrArrayOID:     pgtype.MacaddrOID,
}

// lookupType returns what the package knows of the type oid; kind is
// kindUnknown for a type without a redacted form.
func lookupType(oid uint32) typeInfo {
	if t, ok := scalarTypes[oid]; ok {
		return t
	}
	if elem, ok := arrayElems[oid]; ok {
		// An empty array: ndim 0, no nulls, element type.
		bin := make([]byte, 12)
		binary.BigEndian.PutUint32(bin[8:], elem)
		return typeInfo{kind: kindFixed, text: "{}", bin: bin}
	}
	return typeInfo{kind: kindUnknown}
}

// Redactable reports whether Redact has a marker for the type oid; masked
// values of other types become NULL.
func Redactable(oid uint32) bool { return lookupType(oid).kind != kindUnknown }

func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }
