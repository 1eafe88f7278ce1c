// Package mask masks column values in PostgreSQL result messages as they
// stream to the client: the strategies (redact, null, partial, hash,
// email), a table of how each type's masked value is encoded in text and
// binary format, and rewriters for DataRow messages and COPY TO STDOUT
// data (text, csv, binary). It knows nothing of policy, catalogs or
// sockets: the caller decides per column what to mask and hands the
// message bodies over.
//
//	RowDescription ──► []Column{Rule, TypeOID, TypeMod, Format} ──► NewPlan
//	DataRow body   ──► Plan.AppendDataRow(dst, body)  ──► 'D' message in dst
//	COPY statement ──► CopyOptions + []Column          ──► NewCopyPlan
//	CopyData body  ──► CopyPlan.AppendCopyData(dst, body) ──► 'd' message(s)
//	CopyDone       ──► CopyPlan.Finish()
//
// The rewriters validate framing (column counts, lengths, quoting) and
// return ErrMalformed rather than pass a row they cannot read. They copy
// kept columns as they are, allocate nothing per row once their scratch
// buffers have grown, and keep at most one unfinished COPY row. A Plan or
// CopyPlan belongs to one goroutine; a Hasher may be shared. The masked
// values per type and format are listed in docs/masking.md.
package mask
