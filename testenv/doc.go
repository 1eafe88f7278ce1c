// Package testenv provides real dependencies for tests, benchmarks and the
// demo: a throwaway PostgreSQL cluster, an OpenID Connect issuer, cgroups and
// network namespaces. Nothing here is a mock: the cluster is Debian's
// PostgreSQL started with initdb and pg_ctl, and the issuer is
// zitadel/oidc's certified provider over loopback HTTP.
//
// Every dependency has two constructors. The plain one takes a context and
// returns the value and an error, for tooling such as `make demo`; the
// value's Close is safe to call twice:
//
//	pg, err := testenv.StartPostgres(ctx, testenv.PostgresOptions{StandardRoles: true})
//	iss, err := testenv.StartIssuer(ctx, testenv.IssuerOptions{})
//
// The test one takes a testing.TB, fails the test on error and registers
// Close with tb.Cleanup:
//
//	pg := testenv.NewPostgres(t, testenv.PostgresOptions{SampleData: true})
//	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
//
// A test that needs PostgreSQL fails, naming the package to install, when
// the binaries are missing; only under testing.Short() does it skip.
//
// PostgreSQL
//
//	temp dir (0711, owned by the postgres OS user when running as root)
//	├── data/          initdb, fsync off, SCRAM for TCP, trust on the socket for the superuser
//	├── .s.PGSQL.N     unix socket
//	└── postgres.log   server log (Postgres.LogFile); NewPostgres prints its tail on failure
//
// OIDC issuer
//
//	discovery, JWKS, authorization code + PKCE (public client, loopback
//	redirects), device authorization (RFC 8628), refresh with rotation,
//	JWT access tokens whose aud holds Issuer.Audience, a configurable
//	groups claim, key rotation, and Mint/forgery helpers for negative tests.
//	Logins are automatic: the login page signs in as login_hint, the user
//	chosen with SetLoginUser, or IssuerOptions.DefaultUser.
package testenv
