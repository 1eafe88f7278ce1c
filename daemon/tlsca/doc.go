// Package tlsca is Interlock's local certificate authority. interlockd
// generates it on first start (stored root-only), and issues each endpoint a
// server certificate for the names and addresses clients use to reach the
// protected database, so TLS clients of a redirected connection can verify
// the server once they trust the CA.
package tlsca
