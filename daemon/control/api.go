package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ConfigResponse is GET /v1/config: what `interlock login` needs to know
// to log in without flags.
type ConfigResponse struct {
	// Issuer is the OIDC issuer URL.
	Issuer string `json:"issuer"`
	// ClientID is the CLI's public OAuth client ID.
	ClientID string `json:"client_id"`
	// Audience is the aud the daemon requires of tokens.
	Audience string `json:"audience"`
}

// LoginRequest is POST /v1/login: the tokens the CLI obtained.
type LoginRequest struct {
	IDToken      string    `json:"id_token,omitempty"`
	AccessToken  string    `json:"access_token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

// SessionResponse describes the caller's host session (POST /v1/login,
// GET /v1/session).
type SessionResponse struct {
	UID         uint32    `json:"uid"`
	Issuer      string    `json:"issuer"`
	Subject     string    `json:"sub"`
	Email       string    `json:"email,omitempty"`
	Groups      []string  `json:"groups"`
	Expiry      time.Time `json:"expiry"`
	LoginAt     time.Time `json:"login_at"`
	RefreshedAt time.Time `json:"refreshed_at,omitzero"`
	AutoRefresh bool      `json:"auto_refresh"`
}

// LogoutResponse is DELETE /v1/session.
type LogoutResponse struct {
	// Ended is false when there was no session to end.
	Ended bool `json:"ended"`
}

// ErrorResponse is the body of every error.
type ErrorResponse struct {
	// Error is one human-readable line.
	Error string `json:"error"`
	// Code is stable for programs: see the Code constants and, for token
	// rejections, identity.Cause values ("expired", "wrong_audience", ...).
	Code string `json:"code"`
}

// Error codes of the control API besides identity causes.
const (
	CodeBadRequest       = "bad_request"
	CodeTooLarge         = "too_large"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeNoSession        = "no_session"
	CodeNoToken          = "no_token"
	CodeForbidden        = "forbidden"
	CodeInternal         = "internal"
)

// DefaultMaxBodyBytes bounds request bodies.
const DefaultMaxBodyBytes = 64 << 10

// WriteJSON writes v with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes an ErrorResponse.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, ErrorResponse{Error: msg, Code: code})
}

// DecodeJSON decodes the body of r into v: one JSON object, no unknown
// fields, within the server's size bound. On failure it writes the error
// response and returns false.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = terr
			if err == nil {
				err = errors.New("trailing data after the JSON object")
			}
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooBig):
		WriteError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit))
	case errors.Is(err, io.EOF):
		WriteError(w, http.StatusBadRequest, CodeBadRequest, "empty request body: a JSON object is required")
	default:
		WriteError(w, http.StatusBadRequest, CodeBadRequest, "bad JSON request body: "+err.Error())
	}
	return false
}
