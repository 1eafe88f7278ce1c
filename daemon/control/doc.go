// Package control is interlockd's control socket: HTTP/1.1 with JSON
// bodies over a unix socket (default /run/interlock/interlockd.sock, mode
// 0666). Every request carries the caller's uid, gid and pid, taken by the
// kernel (SO_PEERCRED) when the connection was accepted; nothing the
// client says about itself is trusted. The CLI (`interlock login`,
// `logout`, `status`) talks to it with Client.
//
//	interlock ──unix socket──► credListener (SO_PEERCRED, connection limit)
//	                               │ Peer in the request context
//	                               ▼
//	                           router (JSON 404/405, 64 KiB bodies)
//	                               ├── GET    /v1/config   issuer, client id, audience
//	                               ├── POST   /v1/login    tokens → hostsession.Store.Login(uid)
//	                               ├── GET    /v1/session  the caller's session
//	                               ├── DELETE /v1/session  logout
//	                               └── Handle(pattern, h)  routes of other packages
//
// Handlers added with Server.Handle use PeerOf to learn who is calling and
// WriteJSON, WriteError and DecodeJSON for the wire format. docs/login.md
// describes the API.
package control
