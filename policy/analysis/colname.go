package analysis

import pg_query "github.com/pganalyze/pg_query_go/v6"

// colname returns the name the server gives a result column without an
// alias (PostgreSQL's FigureColname), and whether the analysis knows it for
// certain. Names decide how outer queries' references resolve, so a name is
// only given when it is certainly the server's.
func (p *prov) colname(n *pg_query.Node) (string, bool) {
	name, strength := figureColname(n)
	switch {
	case strength < 0:
		return "", false
	case name == "":
		return "?column?", true
	}
	return name, true
}

// figureColname mirrors FigureColnameInternal: a name and its strength
// (2 for a column or function name, 1 for a type name or "case", 0 for
// none), or strength -1 when the analysis cannot tell.
func figureColname(n *pg_query.Node) (string, int) {
	switch x := n.GetNode().(type) {
	case nil:
		return "", 0
	case *pg_query.Node_ColumnRef:
		name := ""
		for _, f := range x.ColumnRef.Fields {
			if s := f.GetString_(); s != nil {
				name = s.Sval
			}
		}
		if name != "" {
			return name, 2
		}
		return "", 0
	case *pg_query.Node_AIndirection:
		name := ""
		for _, f := range x.AIndirection.Indirection {
			if s := f.GetString_(); s != nil {
				name = s.Sval
			}
		}
		if name != "" {
			return name, 2
		}
		return figureColname(x.AIndirection.Arg)
	case *pg_query.Node_FuncCall:
		fn := x.FuncCall.Funcname
		if len(fn) == 0 {
			return "", -1
		}
		return fn[len(fn)-1].GetString_().GetSval(), 2
	case *pg_query.Node_AExpr:
		if x.AExpr.Kind == pg_query.A_Expr_Kind_AEXPR_NULLIF {
			return "nullif", 2
		}
		return "", 0
	case *pg_query.Node_TypeCast:
		name, s := figureColname(x.TypeCast.Arg)
		if s < 0 {
			return "", -1
		}
		if s <= 1 && x.TypeCast.TypeName != nil {
			names := x.TypeCast.TypeName.Names
			if len(names) == 0 {
				return "", -1
			}
			return names[len(names)-1].GetString_().GetSval(), 1
		}
		return name, s
	case *pg_query.Node_CollateClause:
		return figureColname(x.CollateClause.Arg)
	case *pg_query.Node_GroupingFunc:
		return "grouping", 2
	case *pg_query.Node_SubLink:
		switch x.SubLink.SubLinkType {
		case pg_query.SubLinkType_EXISTS_SUBLINK:
			return "exists", 2
		case pg_query.SubLinkType_ARRAY_SUBLINK:
			return "array", 2
		case pg_query.SubLinkType_EXPR_SUBLINK:
			// The subquery's first column's name.
			return "", -1
		}
		return "", 0
	case *pg_query.Node_CaseExpr:
		name, s := figureColname(x.CaseExpr.Defresult)
		if s < 0 {
			return "", -1
		}
		if s <= 1 {
			return "case", 1
		}
		return name, s
	case *pg_query.Node_AArrayExpr:
		return "array", 2
	case *pg_query.Node_RowExpr:
		return "row", 2
	case *pg_query.Node_CoalesceExpr:
		return "coalesce", 2
	case *pg_query.Node_MinMaxExpr:
		switch x.MinMaxExpr.Op {
		case pg_query.MinMaxOp_IS_GREATEST:
			return "greatest", 2
		case pg_query.MinMaxOp_IS_LEAST:
			return "least", 2
		}
		return "", -1
	case *pg_query.Node_SqlvalueFunction:
		if name, ok := svfNames[x.SqlvalueFunction.Op]; ok {
			return name, 2
		}
		return "", -1
	case *pg_query.Node_ParamRef, *pg_query.Node_BoolExpr,
		*pg_query.Node_NullTest, *pg_query.Node_BooleanTest:
		return "", 0
	}
	return "", -1
}

var svfNames = map[pg_query.SQLValueFunctionOp]string{
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_DATE:        "current_date",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME:        "current_time",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:      "current_time",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP:   "current_timestamp",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N: "current_timestamp",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME:           "localtime",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME_N:         "localtime",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP:      "localtimestamp",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:    "localtimestamp",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:        "current_role",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_USER:        "current_user",
	pg_query.SQLValueFunctionOp_SVFOP_USER:                "user",
	pg_query.SQLValueFunctionOp_SVFOP_SESSION_USER:        "session_user",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:     "current_catalog",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:      "current_schema",
}
