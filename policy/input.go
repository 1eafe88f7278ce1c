package policy

import "github.com/interlock-dev/interlock/policy/analysis"

// User is the authenticated person (or workload) behind a connection.
type User struct {
	Sub    string   `json:"sub"`
	Email  string   `json:"email"`
	Groups []string `json:"groups"`
}

// SessionInfo describes the database session.
type SessionInfo struct {
	Database        string `json:"database"`
	UpstreamUser    string `json:"upstream_user"`
	ApplicationName string `json:"application_name"`
	// ClientAddr is the client's IP address, without the port.
	ClientAddr string `json:"client_addr"`
}

// Endpoint is the protected database endpoint the session is for.
type Endpoint struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

// Origin is the process that opened the connection, as the kernel saw it.
// It is nil for connections that did not come through the redirect.
type Origin struct {
	PID                 int      `json:"pid"`
	UID                 int      `json:"uid"`
	GID                 int      `json:"gid"`
	Comm                string   `json:"comm"`
	Exe                 string   `json:"exe"`
	Cmdline             []string `json:"cmdline"`
	Cgroup              string   `json:"cgroup"`
	Netns               uint64   `json:"netns"`
	OriginalDestination string   `json:"original_destination"`
}

// Context is everything in the policy input except the statement. It is
// fixed for the life of a session.
type Context struct {
	User     User        `json:"user"`
	Session  SessionInfo `json:"session"`
	Endpoint Endpoint    `json:"endpoint"`
	Origin   *Origin     `json:"origin,omitempty"`
}

// Input is the document the policy evaluates: the context plus one statement.
type Input struct {
	Context
	Statement *analysis.Statement `json:"statement"`
}
