package control

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

type rawResponse struct {
	status int
	header http.Header
	body   string
}

// rawRequest writes raw bytes on a fresh connection and reads one response.
func rawRequest(t *testing.T, socket, raw string) rawResponse {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func post(path, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: i\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", path, len(body), body)
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, nil)
	login := func(tok string) string { return post("/v1/login", fmt.Sprintf(`{"access_token":%q}`, tok)) }
	past := time.Now().Add(-time.Hour)
	tests := []struct {
		name       string
		raw        string
		wantStatus int
		wantCode   string // "" for net/http's own plain-text errors
		wantText   string
	}{
		{"garbage bytes", "\x00\x01\xffgarbage\r\n\r\n", http.StatusBadRequest, "", ""},
		{"oversized header", "GET /v1/config HTTP/1.1\r\nHost: i\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, "", ""},
		{"oversized body", post("/v1/login", `{"access_token":"`+strings.Repeat("a", 70<<10)+`"}`), http.StatusRequestEntityTooLarge, CodeTooLarge, "larger than 65536 bytes"},
		{"not json", post("/v1/login", "{not json"), http.StatusBadRequest, CodeBadRequest, "bad JSON"},
		{"empty body", post("/v1/login", ""), http.StatusBadRequest, CodeBadRequest, "empty request body"},
		{"unknown field", post("/v1/login", `{"uid":0,"access_token":"x"}`), http.StatusBadRequest, CodeBadRequest, `unknown field "uid"`},
		{"trailing data", post("/v1/login", `{"id_token":"a"} {}`), http.StatusBadRequest, CodeBadRequest, "bad JSON"},
		{"no token", post("/v1/login", `{"refresh_token":"r"}`), http.StatusBadRequest, CodeNoToken, "no token"},
		{"malformed token", login("a.b.c"), http.StatusUnauthorized, "malformed", "malformed token"},
		{"another audience", login(e.mint(t, testenv.MintOptions{User: "alice", Audience: []string{"other-api"}})), http.StatusUnauthorized, "wrong_audience", "wrong audience"},
		{"expired token", login(e.mint(t, testenv.MintOptions{User: "alice", IssuedAt: past.Add(-time.Hour), Expiry: past})), http.StatusUnauthorized, "expired", "token expired"},
		{"unsigned token", login(mustString(t)(e.iss.MintAlgNone(testenv.MintOptions{User: "alice"}))), http.StatusUnauthorized, "unsigned", "unsigned"},
		{"unknown route", "GET /v1/nothing HTTP/1.1\r\nHost: i\r\nConnection: close\r\n\r\n", http.StatusNotFound, CodeNotFound, "unknown endpoint GET /v1/nothing"},
		{"wrong method", "PUT /v1/session HTTP/1.1\r\nHost: i\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "allowed: GET, DELETE"},
		{"get login", "GET /v1/login HTTP/1.1\r\nHost: i\r\nConnection: close\r\n\r\n", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "allowed: POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawRequest(t, e.socket, tc.raw)
			if resp.status != tc.wantStatus {
				t.Errorf("status %d (%s), want %d", resp.status, resp.body, tc.wantStatus)
			}
			if tc.wantCode != "" {
				var er ErrorResponse
				if err := json.Unmarshal([]byte(resp.body), &er); err != nil {
					t.Fatalf("error body %q is not JSON: %v", resp.body, err)
				}
				if er.Code != tc.wantCode || !strings.Contains(er.Error, tc.wantText) || strings.Contains(er.Error, "\n") {
					t.Errorf("error %+v, want code %s and one line containing %q", er, tc.wantCode, tc.wantText)
				}
			}
			if _, ok := e.store.Lookup(0); ok {
				t.Error("bad input created a session")
			}
			// The daemon keeps serving.
			if _, err := e.client.Config(testCtx(t)); err != nil {
				t.Fatalf("server stopped answering: %v", err)
			}
		})
	}
}

// TestSlowClientIsDropped: a client that never finishes its request is
// disconnected by the read deadline.
func TestSlowClientIsDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c, err := net.Dial("unix", e.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /v1/config HTTP/1.1\r\nHost: i\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(readHeaderTimeout + 10*time.Second))
	start := time.Now()
	_, err = io.ReadAll(c)
	if err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
	if d := time.Since(start); d > readHeaderTimeout+5*time.Second {
		t.Errorf("closed after %s, want about %s", d, readHeaderTimeout)
	}
}

func mustString(t *testing.T) func(string, error) string {
	return func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}
