package testenv

import (
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

func TestClientRedirectURIs(t *testing.T) {
	public := &client{IssuerClient: IssuerClient{ID: "cli"}}
	confidential := &client{IssuerClient: IssuerClient{ID: "web", Secret: "s", RedirectURIs: []string{"https://app.example/cb"}}}
	cases := []struct {
		c    *client
		uri  string
		want bool
	}{
		{public, "http://127.0.0.1:1234/callback", true},
		{public, "http://127.0.0.1:1/", true},
		{public, "http://127.0.0.1:5555", true},
		{public, "http://127.0.0.1:5555/a/b/c?x=1", true},
		{public, "http://[::1]:1234/cb", true},
		{public, "http://localhost:8080/x/y", true},
		{public, "https://example.com/cb", false},
		{public, "http://192.0.2.1:80/cb", false},
		{public, "http://127.0.0.1.evil.example:80/cb", false},
		{public, "http://localhost.evil.example:80/cb", false},
		{public, "myapp://callback", false},
		{confidential, "https://app.example/cb", true},
		{confidential, "http://127.0.0.1:1234/callback", false},
	}
	for _, c := range cases {
		err := op.ValidateAuthReqRedirectURI(c.c, c.uri, oidc.ResponseTypeCode)
		if got := err == nil; got != c.want {
			t.Errorf("client %s redirect %s: accepted %v (err %v), want %v", c.c.ID, c.uri, got, err, c.want)
		}
	}
}
