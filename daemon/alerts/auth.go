package alerts

import (
	"errors"
	"net/http"
	"slices"
)

// Creds are a caller's credentials as the kernel reported them
// (SO_PEERCRED; Groups from SO_PEERGROUPS when the server has them).
type Creds struct {
	UID    uint32
	GID    uint32
	Groups []uint32
}

// ErrNotAllowed is returned by RootOrGroup's authorizer for other callers.
var ErrNotAllowed = errors.New("reading alerts needs root or membership of the alerts group")

// RootOrGroup allows root and members of any of groups (primary or
// supplementary). creds returns the caller of a request; ok false refuses.
func RootOrGroup(groups []uint32, creds func(*http.Request) (Creds, bool)) Authorizer {
	return func(r *http.Request) error {
		c, ok := creds(r)
		if !ok {
			return errors.New("caller unknown")
		}
		if c.UID == 0 || slices.Contains(groups, c.GID) {
			return nil
		}
		for _, g := range c.Groups {
			if slices.Contains(groups, g) {
				return nil
			}
		}
		return ErrNotAllowed
	}
}
