package proxy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/interlock-dev/interlock/daemon/catalog"
	"github.com/interlock-dev/interlock/policy"
	"github.com/interlock-dev/interlock/policy/analysis"
	"github.com/interlock-dev/interlock/policy/mask"
)

// maskCtx is what the backend loop needs to mask one statement's results:
// the user's masking rules and the statement's column lineage.
type maskCtx struct {
	// checked is the policy's verdict the context comes from; nil when the
	// lineage is session state (a FETCH from a cursor). It keys the
	// session's plan memo: a cached verdict is shared, immutable, and
	// kept alive by the memo's key.
	checked *policy.Checked
	rules   map[string]policy.MaskRule
	// out is the lineage of the result columns; nil when unknown (every
	// column not resolved through the catalog is then masked).
	out []analysis.OutputColumn
	// copy holds the options of a COPY ... TO statement.
	copy *analysis.Copy
}

// maskReport says what a plan masked, for the audit record.
type maskReport struct {
	masked  []string // result column names masked because of a masked source
	unknown []string // result column names masked because provenance is unknown
}

// slot is the lineage of one result column after expanding stars.
type slot struct {
	sources  []string
	wholeRow []string
	unknown  bool
	why      string
}

// maskContext returns the masking context of a checked statement, or nil
// when the user has no masking rules.
func (sess *session) maskContext(c *policy.Checked) *maskCtx {
	if c == nil || !c.Decision.Masking() {
		return nil
	}
	mc := &maskCtx{rules: c.Decision.Mask}
	st := c.Statement
	if c.Prepared != nil {
		st = c.Prepared
	}
	if st == nil {
		return mc
	}
	switch {
	case st.Fetch != "":
		if cur, ok := sess.fe.cursors[st.Fetch]; ok {
			mc.out = cur
		}
	default:
		mc.checked = c
		mc.out = st.Output
	}
	return mc
}

// memoMasks returns build's masking contexts. For a cached verdict (c
// not nil) whose contexts depend on the verdict alone (see staticMasks),
// they are built once per session and kept in its memo.
func (sess *session) memoMasks(c *policy.Checked, cached bool, build func() ([]*maskCtx, string)) ([]*maskCtx, string) {
	if !cached || c == nil {
		return build()
	}
	m := sess.memo(c)
	if m.masksOK {
		return m.masks, ""
	}
	masks, reason := build()
	if reason == "" && staticMasks(c) {
		m.masks, m.masksOK = masks, true
	}
	return masks, reason
}

// staticMasks reports whether a statement's masking context is a function
// of its verdict alone: not of a cursor's lineage (FETCH), a cursor to
// remember (DECLARE) or COPY options (constants, which the decision cache's
// key ignores).
func staticMasks(c *policy.Checked) bool {
	st := c.Statement
	if st == nil || st.Declare != "" || slices.Contains(st.Kinds, analysis.KindCopyTo) {
		return false
	}
	if c.Prepared != nil {
		st = c.Prepared
	}
	return st.Fetch == ""
}

// expand turns the statement's output lineage into one slot per result
// column, sizing stars with the catalog and a single Many entry with what
// is left of n. It returns nil when the shape cannot be matched to n
// columns: every column is then of unknown lineage.
func (sess *session) expand(ctx context.Context, out []analysis.OutputColumn, n int) []slot {
	stars := map[int][][]string{}
	fixed, many := 0, 0
	for i, o := range out {
		switch {
		case o.Star != nil:
			cols, err := sess.starColumns(ctx, o.Star)
			if err != nil {
				return nil
			}
			stars[i] = cols
			fixed += len(cols)
		case o.Many:
			many++
		default:
			fixed++
		}
	}
	manyWidth := 0
	switch {
	case many == 1 && n >= fixed:
		manyWidth = n - fixed
	case many > 0:
		return nil
	}
	slots := make([]slot, 0, n)
	for i, o := range out {
		b := slot{sources: o.Sources, wholeRow: o.WholeRow, unknown: o.Unknown, why: o.Why}
		switch {
		case o.Star != nil:
			for _, col := range stars[i] {
				s := b
				s.sources = append(slices.Clone(b.sources), col...)
				slots = append(slots, s)
			}
		case o.Many:
			for range manyWidth {
				slots = append(slots, b)
			}
		default:
			slots = append(slots, b)
		}
	}
	if len(slots) != n {
		return nil
	}
	return slots
}

// starColumns returns, per column of a star's relation (and the relations
// set operations combine with it, position by position), the column names.
func (sess *session) starColumns(ctx context.Context, star *analysis.StarRef) ([][]string, error) {
	rel, err := sess.relationByName(ctx, star.Table)
	if err != nil {
		return nil, err
	}
	var cols [][]string
	for _, c := range rel.Columns {
		if slices.Contains(star.Except, c.Name) {
			continue
		}
		cols = append(cols, []string{star.Table + "." + c.Name})
	}
	for _, u := range star.Union {
		ucols, err := sess.starColumns(ctx, &u)
		if err != nil {
			return nil, err
		}
		for i := range cols {
			if i < len(ucols) {
				cols[i] = append(cols[i], ucols[i]...)
			}
		}
	}
	return cols, nil
}

func (sess *session) relationByName(ctx context.Context, qualified string) (*catalog.Relation, error) {
	if sess.ep.Catalog == nil {
		return nil, errors.New("no catalog connection")
	}
	schema, name, ok := strings.Cut(qualified, ".")
	if !ok {
		return nil, fmt.Errorf("relation %q is not schema-qualified", qualified)
	}
	return sess.ep.Catalog.RelationByName(ctx, sess.params["database"], schema, name)
}

// columnSources returns the base columns a RowDescription field comes
// from according to the catalog: the column itself, or for a view's
// column what the view computes it from. ok is false when the catalog
// cannot say.
func (sess *session) columnSources(ctx context.Context, tableOID uint32, attnum int16, depth int) (srcs []string, direct, ok bool) {
	if sess.ep.Catalog == nil || depth > 8 {
		return nil, false, false
	}
	rel, err := sess.ep.Catalog.RelationByOID(ctx, sess.params["database"], tableOID)
	if err != nil {
		sess.log.Warn("catalog lookup for masking", "oid", tableOID, "err", err)
		return nil, false, false
	}
	col, found := rel.Column(attnum)
	if !found {
		return nil, false, false
	}
	if !rel.IsView() {
		return []string{rel.QualifiedName() + "." + col.Name}, true, true
	}
	out, err := sess.srv.viewOutput(rel.ViewDef)
	if err != nil {
		return nil, false, false
	}
	slots := sess.expand(ctx, out, len(rel.Columns))
	if slots == nil || int(attnum) > len(slots) || attnum < 1 {
		return nil, false, false
	}
	s := slots[attnum-1]
	sess.resolve(ctx, &s, depth+1)
	if s.unknown {
		return nil, false, false
	}
	srcs = slices.Clone(s.sources)
	for _, t := range s.wholeRow {
		srcs = append(srcs, t+".*")
	}
	return srcs, false, true
}

// viewOutput analyses a view definition once per distinct text.
func (s *Server) viewOutput(def string) ([]analysis.OutputColumn, error) {
	s.viewMu.Lock()
	out, ok := s.views[def]
	s.viewMu.Unlock()
	if ok {
		return out, nil
	}
	out, err := analysis.ViewOutput(def, analysis.Options{StandardConformingStrings: true})
	if err != nil {
		return nil, err
	}
	s.viewMu.Lock()
	if len(s.views) > 4096 {
		clear(s.views)
	}
	s.views[def] = out
	s.viewMu.Unlock()
	return out, nil
}

// maskedBy returns the first source that a rule masks ("table.*" matches
// every masked column of the table).
func maskedBy(rules map[string]policy.MaskRule, srcs []string) (string, bool) {
	for _, s := range srcs {
		if strings.HasSuffix(s, ".*") {
			prefix := strings.TrimSuffix(s, "*")
			for k := range rules {
				if strings.HasPrefix(k, prefix) {
					return k, true
				}
			}
			continue
		}
		if _, ok := rules[s]; ok {
			return s, true
		}
	}
	return "", false
}

// resolve replaces the columns of views in s's sources by the base columns
// they are computed from, recursively, and drops candidates that name no
// existing relation (an unqualified column's candidate tables). A view the
// catalog cannot explain makes the slot unknown.
func (sess *session) resolve(ctx context.Context, s *slot, depth int) {
	if s == nil || s.unknown {
		return
	}
	if depth > 8 {
		s.unknown = true
		return
	}
	var out []string
	for _, src := range s.sources {
		i := strings.LastIndexByte(src, '.')
		if i < 0 {
			out = append(out, src)
			continue
		}
		rel, err := sess.relationByName(ctx, src[:i])
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			continue // a candidate that does not exist
		case err != nil:
			s.unknown, s.why = true, err.Error()
			return
		case !rel.IsView():
			out = append(out, src)
			continue
		}
		vs, ok := sess.viewColumn(ctx, rel, src[i+1:])
		if !ok {
			s.unknown, s.why = true, "view "+rel.QualifiedName()+" could not be analysed"
			return
		}
		sess.resolve(ctx, &vs, depth+1)
		if vs.unknown {
			s.unknown, s.why = true, vs.why
			return
		}
		out = append(out, vs.sources...)
		for _, t := range vs.wholeRow {
			out = append(out, t+".*")
		}
	}
	s.sources = out
}

// viewColumn returns the lineage of one column of a view.
func (sess *session) viewColumn(ctx context.Context, rel *catalog.Relation, col string) (slot, bool) {
	out, err := sess.srv.viewOutput(rel.ViewDef)
	if err != nil {
		return slot{}, false
	}
	slots := sess.expand(ctx, out, len(rel.Columns))
	if slots == nil {
		return slot{}, false
	}
	for i, c := range rel.Columns {
		if c.Name == col {
			return slots[i], true
		}
	}
	return slot{}, false
}

// decideColumn returns how to mask one result column, given what the
// catalog and the lineage say of it.
func decideColumn(rules map[string]policy.MaskRule, catSrcs []string, catDirect, catOK bool, s *slot) (rule mask.Rule, masked, unknown bool) {
	var srcs []string
	if catOK {
		srcs = append(srcs, catSrcs...)
	}
	if s != nil {
		srcs = append(srcs, s.sources...)
		for _, t := range s.wholeRow {
			srcs = append(srcs, t+".*")
		}
	}
	if s == nil && !catOK || s != nil && s.unknown {
		// Fail closed: nothing proves where the value comes from.
		return mask.Rule{Strategy: mask.Redact}, true, true
	}
	key, hit := maskedBy(rules, srcs)
	if !hit {
		return mask.Rule{}, false, false
	}
	// A plain column keeps its configured strategy; anything computed from
	// a masked column is redacted (a partial or hash of a derived value
	// could reveal the original).
	if catOK && catDirect && len(catSrcs) == 1 && catSrcs[0] == key && (s == nil || onlySource(s, key)) {
		return maskRuleOf(rules[key]), true, false
	}
	return mask.Rule{Strategy: mask.Redact}, true, false
}

func onlySource(s *slot, key string) bool {
	return len(s.wholeRow) == 0 && (len(s.sources) == 0 || len(s.sources) == 1 && s.sources[0] == key)
}

// maskRuleOf converts the policy's rule into the masker's.
func maskRuleOf(r policy.MaskRule) mask.Rule {
	out := mask.Rule{KeepLast: r.Keep, HashLength: r.HashLength}
	out.Strategy, _ = mask.ParseStrategy(r.Strategy) // validated by policy
	if r.Fill != "" {
		out.Fill, _ = utf8.DecodeRuneInString(r.Fill)
	}
	if r.HashEncoding == "base64" {
		out.HashEncoding = mask.HashBase64
	}
	return out
}

// resultPlan builds the DataRow plan of one result set.
func (sess *session) resultPlan(ctx context.Context, mc *maskCtx, fields []pgproto3.FieldDescription) (*mask.Plan, maskReport, error) {
	var rep maskReport
	var slots []slot
	if mc.out != nil {
		slots = sess.expand(ctx, mc.out, len(fields))
	}
	cols := make([]mask.Column, len(fields))
	for i, f := range fields {
		var s *slot
		if slots != nil {
			s = &slots[i]
			sess.resolve(ctx, s, 0)
		}
		var catSrcs []string
		var direct, ok bool
		if f.TableOID != 0 {
			catSrcs, direct, ok = sess.columnSources(ctx, f.TableOID, int16(f.TableAttributeNumber), 0)
			if !ok {
				// A column of a table the catalog cannot resolve.
				s = &slot{unknown: true}
			}
		}
		rule, masked, unknown := decideColumn(mc.rules, catSrcs, direct, ok, s)
		if masked {
			name := string(f.Name)
			if unknown {
				rep.unknown = append(rep.unknown, name)
			} else {
				rep.masked = append(rep.masked, name)
			}
		}
		cols[i] = mask.Column{Rule: rule, TypeOID: f.DataTypeOID, TypeMod: f.TypeModifier, Format: f.Format}
	}
	if len(rep.masked)+len(rep.unknown) == 0 {
		return nil, rep, nil
	}
	p, err := mask.NewPlan(cols, sess.srv.hasher)
	return p, rep, err
}

// copyPlan builds the plan of a COPY ... TO STDOUT.
func (sess *session) copyPlan(ctx context.Context, mc *maskCtx, ncols int) (*mask.CopyPlan, maskReport, error) {
	var rep maskReport
	if mc.copy == nil {
		return nil, rep, errors.New("the COPY statement's options are unknown")
	}
	opts := mask.CopyOptions{Header: mc.copy.Header}
	switch mc.copy.Format {
	case "csv":
		opts.Format = mask.CopyCSV
	case "binary":
		opts.Format = mask.CopyBinary
	}
	if len(mc.copy.Delimiter) == 1 {
		opts.Delimiter = mc.copy.Delimiter[0]
	}
	if len(mc.copy.Quote) == 1 {
		opts.Quote = mc.copy.Quote[0]
	}
	if len(mc.copy.Escape) == 1 {
		opts.Escape = mc.copy.Escape[0]
	}
	null := mc.copy.Null
	opts.Null = &null
	cols := make([]mask.Column, ncols)
	var names []string
	var types []uint32
	var slots []slot
	if mc.copy.Table != "" {
		rel, err := sess.relationByName(ctx, mc.copy.Table)
		if err != nil {
			return nil, rep, err
		}
		for _, c := range rel.Columns {
			if len(mc.copy.Columns) == 0 || slices.Contains(mc.copy.Columns, c.Name) {
				names = append(names, c.Name)
				types = append(types, c.TypeOID)
				slots = append(slots, slot{sources: []string{mc.copy.Table + "." + c.Name}})
			}
		}
		if len(slots) != ncols {
			slots = nil
		}
	} else if mc.out != nil {
		slots = sess.expand(ctx, mc.out, ncols)
	}
	for i := range cols {
		var s *slot
		if slots != nil {
			s = &slots[i]
			sess.resolve(ctx, s, 0)
		}
		direct := mc.copy.Table != "" && s != nil && len(s.sources) == 1
		var catSrcs []string
		if direct {
			catSrcs = s.sources
		}
		rule, masked, unknown := decideColumn(mc.rules, catSrcs, direct, direct, s)
		name := fmt.Sprintf("column %d", i+1)
		if i < len(names) {
			name = names[i]
		}
		if masked {
			if unknown {
				rep.unknown = append(rep.unknown, name)
			} else {
				rep.masked = append(rep.masked, name)
			}
		}
		cols[i] = mask.Column{Rule: rule}
		if i < len(types) {
			cols[i].TypeOID = types[i]
		}
	}
	if len(rep.masked)+len(rep.unknown) == 0 {
		return nil, rep, nil
	}
	p, err := mask.NewCopyPlan(opts, cols, sess.srv.hasher)
	return p, rep, err
}

// redactAll is the fail-closed plan: every column redacted.
func redactAll(fields []pgproto3.FieldDescription, h *mask.Hasher) *mask.Plan {
	cols := make([]mask.Column, len(fields))
	for i, f := range fields {
		cols[i] = mask.Column{Rule: mask.Rule{Strategy: mask.Null}, TypeOID: f.DataTypeOID, Format: f.Format}
	}
	p, _ := mask.NewPlan(cols, h)
	return p
}

func fieldNames(fields []pgproto3.FieldDescription) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = string(f.Name)
	}
	return names
}

// maskedError is a server error for a statement under masking rules: the
// SQLSTATE and severity only, since the text may quote a masked value.
func maskedError(e *pgproto3.ErrorResponse) []byte {
	out, _ := (&pgproto3.ErrorResponse{
		Severity: e.Severity, SeverityUnlocalized: e.SeverityUnlocalized, Code: e.Code,
		Message: "the statement failed (SQLSTATE " + e.Code + "); Interlock withholds the server's message because the statement reads masked columns",
	}).Encode(nil)
	return out
}
