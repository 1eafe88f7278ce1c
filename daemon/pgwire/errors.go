package pgwire

import "github.com/jackc/pgx/v5/pgproto3"

// SQLSTATE codes the proxy uses.
const (
	CodeInsufficientPrivilege   = "42501" // statement denied by policy
	CodeInvalidPassword         = "28P01" // token rejected
	CodeInvalidAuthorization    = "28000" // no identity / no upstream role
	CodeProtocolViolation       = "08P01"
	CodeFeatureNotSupported     = "0A000"
	CodeConnectionFailure       = "08006" // upstream unreachable or died
	CodeCannotConnectNow        = "57P03"
	CodeAdminShutdown           = "57P01"
	CodeProgramLimitExceeded    = "54000" // message too large
	CodeSystemError             = "58000" // audit or policy unavailable
	CodeInvalidParameterValue   = "22023"
	CodeQueryCanceled           = "57014"
	CodeInvalidSQLStatementName = "26000"
)

// Error returns an ErrorResponse with severity ERROR.
func Error(code, message string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: message}
}

// Fatal returns an ErrorResponse with severity FATAL; the connection is
// closed after it is sent.
func Fatal(code, message string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: message}
}

// Notice returns a NoticeResponse with severity NOTICE.
func Notice(message, detail, hint string) *pgproto3.NoticeResponse {
	return &pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "00000", Message: message, Detail: detail, Hint: hint}
}
