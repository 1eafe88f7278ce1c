// Package proxy is interlockd's PostgreSQL data path: it accepts client
// connections, authenticates them, connects upstream with the brokered
// credential, and relays the protocol with every statement checked against
// policy and audited before it is forwarded.
//
//	client                     proxy                                 database
//	  |-- SSLRequest ----------->|                                        |
//	  |<---------------- 'N' ----|                                        |
//	  |-- StartupMessage ------->|                                        |
//	  |<-- AuthCleartextPassword-|                                        |
//	  |-- Password(OIDC token) ->| verify token, map groups to a role     |
//	  |                          |-- startup + SCRAM (pgconn) ----------->|
//	  |                          |<-------------- ParameterStatus, BKD ---|
//	  |<-- AuthOk, ParameterStatus, our BackendKeyData, ReadyForQuery ----|
//	  |-- Query / Parse ... ---->| analyse + decide (cached), audit,      |
//	  |                          |-- forward (or a failing substitute) -->|
//	  |<----------------- results streamed back, tracked per operation ---|
//
// Two goroutines relay a session: the frontend loop reads client messages,
// decides and forwards them; the backend loop reads server messages, keeps
// per-operation state (which statement a CommandComplete ends, transaction
// status, standard_conforming_strings) and writes them to the client. A
// denied statement is not answered locally: the proxy forwards a statement
// that fails to parse in its place and rewrites the server's error into the
// policy's. The server thus stays the single source of response order and of
// transaction state, and pipelined clients stay in sync.
package proxy
