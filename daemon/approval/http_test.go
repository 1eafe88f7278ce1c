package approval

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/control"
	"github.com/interlock-dev/interlock/daemon/hostsession"
	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/testenv"
)

// idp is a real OIDC issuer and a verifier of its tokens.
type idp struct {
	iss *testenv.Issuer
	v   *identity.Verifier
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{Logger: quietLogger()})
	v, err := identity.New(testCtx(t), identity.Config{Issuer: iss.URL, Audience: iss.Audience, GroupsClaim: iss.GroupsClaim, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return &idp{iss: iss, v: v}
}

func (p *idp) token(t *testing.T, o testenv.MintOptions) string {
	t.Helper()
	tok, err := p.iss.Mint(o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// apiError unwraps a *control.APIError.
func apiError(t *testing.T, err error) *control.APIError {
	t.Helper()
	var ae *control.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an API error", err)
	}
	return ae
}

func TestAPI(t *testing.T) {
	p := newIDP(t)
	a := newTrail(t)
	s := newService(t, mustLocal(t), a, nil)
	ctx := testCtx(t)
	api, err := NewAPI(ctx, s, APIConfig{Listen: "127.0.0.1:0", Verifier: p.v})
	if err != nil {
		t.Fatal(err)
	}
	serveAPI(t, api)
	base := "http://" + api.Addr().String()
	client := func(tok string) *Client {
		c := NewAPIClient(base, tok, nil)
		t.Cleanup(func() { c.Close() })
		return c
	}
	past := time.Now().Add(-time.Hour)
	tokens := map[string]string{
		"alice":    p.token(t, testenv.MintOptions{User: "alice"}),
		"bob":      p.token(t, testenv.MintOptions{User: "bob"}),
		"carol":    p.token(t, testenv.MintOptions{User: "carol"}),
		"expired":  p.token(t, testenv.MintOptions{User: "alice", IssuedAt: past.Add(-time.Hour), Expiry: past}),
		"audience": p.token(t, testenv.MintOptions{User: "alice", Audience: []string{"another-api"}}),
		"none":     "",
		"garbage":  "not.a.jwt",
	}

	r := mustRequest(t, s, deleteReq("5"))
	tests := []struct {
		name, token string
		approve     bool // else list
		status      int
		code        string
	}{
		{"no token", "none", true, http.StatusUnauthorized, control.CodeNoToken},
		{"garbage token", "garbage", true, http.StatusUnauthorized, string(identity.CauseMalformed)},
		{"expired token", "expired", true, http.StatusUnauthorized, string(identity.CauseExpired)},
		{"wrong audience", "audience", true, http.StatusUnauthorized, string(identity.CauseWrongAudience)},
		{"expired token lists", "expired", false, http.StatusUnauthorized, string(identity.CauseExpired)},
		{"non-member", "carol", true, http.StatusForbidden, CodeNotApprover},
		{"self-approval", "bob", true, http.StatusForbidden, CodeSelfApproval},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := client(tokens[tc.token])
			var err error
			if tc.approve {
				_, err = c.Approve(ctx, r.ID, "")
			} else {
				_, err = c.List(ctx, false)
			}
			ae := apiError(t, err)
			if ae.Status != tc.status || ae.Code != tc.code {
				t.Errorf("got %d %s (%s), want %d %s", ae.Status, ae.Code, ae.Error(), tc.status, tc.code)
			}
			if cur, _ := s.Get(ctx, r.ID); cur.State != StatePending {
				t.Fatalf("request is %s after a refused call", cur.State)
			}
		})
	}

	t.Run("visibility", func(t *testing.T) {
		for who, sees := range map[string]bool{"alice": true, "bob": true, "carol": false} {
			rs, err := client(tokens[who]).List(ctx, false)
			if err != nil {
				t.Fatalf("%s lists: %v", who, err)
			}
			if got := slices.ContainsFunc(rs, func(x *Request) bool { return x.ID == r.ID }); got != sees {
				t.Errorf("%s sees the request: %v, want %v", who, got, sees)
			}
			_, err = client(tokens[who]).Get(ctx, r.ID)
			if sees && err != nil || !sees && apiError(t, err).Status != http.StatusNotFound {
				t.Errorf("%s gets the request: %v", who, err)
			}
		}
	})
	t.Run("challenge header", func(t *testing.T) {
		resp, err := http.Get(base + "/v1/requests")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("approve", func(t *testing.T) {
		waiting := waitAsync(ctx, s, r.ID)
		got, err := client(tokens["alice"]).Approve(ctx, r.ID, "via chat")
		if err != nil || got.State != StateApproved || got.Decision.By.Via != ViaAPI || got.Decision.By.Subject != "alice" {
			t.Fatalf("approve: %+v %v", got, err)
		}
		if w := recv(t, waiting, 10*time.Second); w.err != nil || w.r.State != StateApproved {
			t.Errorf("wait: %+v %v", w.r, w.err)
		}
		_, err = client(tokens["alice"]).Approve(ctx, r.ID, "again")
		if ae := apiError(t, err); ae.Status != http.StatusConflict || ae.Code != CodeDecided {
			t.Errorf("second approval: %d %s", ae.Status, ae.Code)
		}
		apps := forRequest(a.records(t, audit.TypeApproval), r.ID)
		if len(apps) != 1 || apps[0]["via"] != ViaAPI || apps[0]["approver_email"] != "alice@example.com" {
			t.Errorf("approval records %v", apps)
		}
	})
	t.Run("reject and errors", func(t *testing.T) {
		r2 := mustRequest(t, s, deleteReq("6"))
		_, err := client(tokens["alice"]).Reject(ctx, r2.ID, "")
		if ae := apiError(t, err); ae.Status != http.StatusBadRequest {
			t.Errorf("reject without reason: %d %s", ae.Status, ae.Code)
		}
		if got, err := client(tokens["alice"]).Reject(ctx, r2.ID, "wrong ticket"); err != nil || got.State != StateRejected {
			t.Errorf("reject: %+v %v", got, err)
		}
		_, err = client(tokens["alice"]).Approve(ctx, "nosuchrequest", "")
		if ae := apiError(t, err); ae.Status != http.StatusNotFound {
			t.Errorf("unknown id: %d %s", ae.Status, ae.Code)
		}
		resp, err := http.Get(base + "/v2/nothing")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown route: %d", resp.StatusCode)
		}
	})
}

func serveAPI(t *testing.T, api *API) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := api.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

func TestAPIConfig(t *testing.T) {
	p := newIDP(t)
	for name, tc := range map[string]struct {
		cfg  APIConfig
		want string
	}{
		"plaintext on all interfaces": {APIConfig{Listen: ":8443", Verifier: p.v}, "not a loopback address"},
		"plaintext on a LAN address":  {APIConfig{Listen: "192.0.2.1:8443", Verifier: p.v}, "not a loopback address"},
		"half a key pair":             {APIConfig{Listen: ":8443", Verifier: p.v, TLSCertFile: "c.pem"}, "both"},
		"no verifier":                 {APIConfig{Listen: "127.0.0.1:0"}, "required"},
		"plaintext allowed":           {APIConfig{Listen: ":8443", Verifier: p.v, AllowPlaintext: true}, ""},
		"loopback":                    {APIConfig{Listen: "[::1]:8443", Verifier: p.v}, ""},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// TestAPITLS serves HTTPS with a certificate made for the test.
func TestAPITLS(t *testing.T) {
	p := newIDP(t)
	s := newService(t, mustLocal(t), newTrail(t), nil)
	certFile, keyFile, pool := selfSigned(t)
	api, err := NewAPI(testCtx(t), s, APIConfig{Listen: "127.0.0.1:0", Verifier: p.v, TLSCertFile: certFile, TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	serveAPI(t, api)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	c := NewAPIClient("https://"+api.Addr().String(), p.token(t, testenv.MintOptions{User: "alice"}), hc)
	defer c.Close()
	if _, err := c.List(testCtx(t), false); err != nil {
		t.Errorf("list over TLS: %v", err)
	}
	plain := NewAPIClient("http://"+api.Addr().String(), p.token(t, testenv.MintOptions{User: "alice"}), nil)
	defer plain.Close()
	if _, err := plain.List(testCtx(t), false); err == nil {
		t.Error("plaintext request to the TLS listener answered")
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "interlockd test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestControlHandlers: the routes on the real control socket, the caller
// being the host session of our uid.
func TestControlHandlers(t *testing.T) {
	p := newIDP(t)
	a := newTrail(t)
	s := newService(t, mustLocal(t), a, nil)
	ctx := testCtx(t)
	sessions, err := hostsession.New(ctx, hostsession.Config{Verifier: p.v, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sessions.Close() })
	dir, err := os.MkdirTemp("", "interlock-approval-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "interlockd.sock")
	srv, err := control.New(ctx, control.Config{SocketPath: socket, Store: sessions, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	MountControl(srv, s, sessions)
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	c := NewControlClient(socket)
	defer c.Close()
	uid := uint32(os.Getuid())
	loginAs := func(t *testing.T, who string) {
		t.Helper()
		if _, err := sessions.Login(ctx, uid, hostsession.Tokens{AccessToken: p.token(t, testenv.MintOptions{User: who})}); err != nil {
			t.Fatalf("login %s: %v", who, err)
		}
	}

	r := mustRequest(t, s, deleteReq("5"))
	t.Run("without a session", func(t *testing.T) {
		sessions.Logout(uid)
		rs, err := c.List(ctx, false)
		if uid == 0 {
			if err != nil || len(rs) != 1 {
				t.Errorf("root lists without a session: %d %v, want the request", len(rs), err)
			}
		} else if ae := apiError(t, err); ae.Code != control.CodeNoSession {
			t.Errorf("list without a session: %s", ae.Code)
		}
		_, err = c.Approve(ctx, r.ID, "")
		if ae := apiError(t, err); ae.Status != http.StatusUnauthorized || ae.Code != control.CodeNoSession || !strings.Contains(ae.Error(), "interlock login") {
			t.Errorf("approve without a session: %d %s %q", ae.Status, ae.Code, ae.Error())
		}
	})
	t.Run("non-member", func(t *testing.T) {
		loginAs(t, "carol")
		_, err := c.Approve(ctx, r.ID, "")
		if ae := apiError(t, err); ae.Status != http.StatusForbidden || ae.Code != CodeNotApprover {
			t.Errorf("carol approves: %d %s", ae.Status, ae.Code)
		}
	})
	t.Run("self-approval", func(t *testing.T) {
		loginAs(t, "bob")
		_, err := c.Approve(ctx, r.ID, "")
		if ae := apiError(t, err); ae.Status != http.StatusForbidden || ae.Code != CodeSelfApproval {
			t.Errorf("bob approves his own: %d %s", ae.Status, ae.Code)
		}
		if got, err := c.Get(ctx, r.ID); err != nil || got.ID != r.ID || got.Statement != r.Statement {
			t.Errorf("bob gets his request: %+v %v", got, err)
		}
	})
	t.Run("bad body", func(t *testing.T) {
		resp := rawPost(t, socket, "/v1/requests/"+r.ID+"/approve", `{"comment": 5}`)
		if resp != http.StatusBadRequest {
			t.Errorf("bad JSON: %d", resp)
		}
	})
	t.Run("approve", func(t *testing.T) {
		loginAs(t, "alice")
		waiting := waitAsync(ctx, s, r.ID)
		got, err := c.Approve(ctx, r.ID, "LGTM")
		if err != nil || got.State != StateApproved || got.Decision.By.Via != ViaControl || got.Decision.By.UID == nil || *got.Decision.By.UID != uid {
			t.Fatalf("approve: %+v %v", got, err)
		}
		if w := recv(t, waiting, 10*time.Second); w.err != nil || w.r.State != StateApproved {
			t.Errorf("wait: %+v %v", w.r, w.err)
		}
		apps := forRequest(a.records(t, audit.TypeApproval), r.ID)
		if len(apps) != 1 || apps[0]["approver"] != "alice" || apps[0]["via"] != ViaControl || apps[0]["uid"] != float64(uid) {
			t.Errorf("approval records %v", apps)
		}
		if rs, err := c.List(ctx, false); err != nil || len(rs) != 0 {
			t.Errorf("open requests after approval: %d %v", len(rs), err)
		}
		if rs, err := c.List(ctx, true); err != nil || len(rs) != 1 || rs[0].State != StateApproved {
			t.Errorf("all requests after approval: %v %v", rs, err)
		}
	})
	t.Run("requester rejects: withdrawn", func(t *testing.T) {
		r2 := mustRequest(t, s, deleteReq("6"))
		loginAs(t, "bob")
		got, err := c.Reject(ctx, r2.ID, "wrong id")
		if err != nil || got.State != StateWithdrawn {
			t.Errorf("bob rejects his own request: %+v %v, want withdrawn", got, err)
		}
	})
}

// rawPost sends a POST over the control socket and returns the status.
func rawPost(t *testing.T, socket, path, body string) int {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post("http://interlockd"+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
