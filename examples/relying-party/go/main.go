// Command verify checks an Attesta attestation token as a relying party.
//
//	go run . -issuer https://127.0.0.1:8443/providers/lab -ca attesta-data/tls/cert.pem token.jwt
//
// The issuer is configured here, never taken from the token; its OpenID
// metadata must name exactly that issuer and a jwks_uri under it. Keys come
// from that jwks_uri (/certs) by kid, cached for an hour; an unknown kid
// refetches the set at most once per 10 s. jku, x5u, jwk and x5c in the token
// header are never used. RS256 only, exp/nbf with 60 s leeway, iss checked,
// and x-ms-attestation-type required (control-plane replies are signed by the
// same key but are not attestation results).
package main

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// IssuerKeys caches the signing keys of one configured issuer.
type IssuerKeys struct {
	Issuer string
	client *http.Client

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time
}

func NewIssuerKeys(issuer string, roots *x509.CertPool) (*IssuerKeys, error) {
	issuer = strings.TrimRight(issuer, "/")
	if !strings.HasPrefix(issuer, "https://") {
		return nil, errors.New("the issuer must be an https:// URL")
	}
	client := &http.Client{
		Timeout:       15 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &IssuerKeys{Issuer: issuer, client: client, keys: map[string]*rsa.PublicKey{}}, nil
}

func (k *IssuerKeys) getJSON(url string, v any) error {
	resp, err := k.client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (k *IssuerKeys) refresh() error {
	var meta struct {
		Issuer  string `json:"issuer"`
		JwksURI string `json:"jwks_uri"`
	}
	if err := k.getJSON(k.Issuer+"/.well-known/openid-configuration", &meta); err != nil {
		return err
	}
	if meta.Issuer != k.Issuer {
		return fmt.Errorf("the metadata names issuer %q, not %q", meta.Issuer, k.Issuer)
	}
	if !strings.HasPrefix(meta.JwksURI, k.Issuer+"/") {
		return fmt.Errorf("jwks_uri %q is outside the issuer", meta.JwksURI)
	}
	var set struct {
		Keys []struct {
			Kid, Kty, N, E string
		} `json:"keys"`
	}
	if err := k.getJSON(meta.JwksURI, &set); err != nil {
		return err
	}
	keys := map[string]*rsa.PublicKey{}
	for _, j := range set.Keys {
		if j.Kty != "RSA" || j.Kid == "" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(j.N)
		e, err2 := base64.RawURLEncoding.DecodeString(j.E)
		if err1 != nil || err2 != nil || len(e) > 4 {
			continue
		}
		keys[j.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	k.keys, k.fetchedAt = keys, time.Now()
	return nil
}

// Key returns the issuer's key with this kid.
func (k *IssuerKeys) Key(kid string) (*rsa.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	age := time.Since(k.fetchedAt)
	if _, ok := k.keys[kid]; age > time.Hour || (!ok && age > 10*time.Second) {
		if err := k.refresh(); err != nil {
			return nil, err
		}
	}
	key, ok := k.keys[kid]
	if !ok {
		return nil, fmt.Errorf("kid %q is not among the issuer's signing keys", kid)
	}
	return key, nil
}

// Verify returns the claims of a valid attestation result of k.Issuer.
func Verify(token string, k *IssuerKeys) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		// Deliberately no look at t.Header["jku"], "x5u", "jwk" or "x5c".
		return k.Key(kid)
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(k.Issuer),
		jwt.WithLeeway(60*time.Second),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	if err != nil {
		return nil, err
	}
	if _, ok := claims["x-ms-attestation-type"]; !ok {
		return nil, errors.New("not an attestation result (no x-ms-attestation-type)")
	}
	return claims, nil
}

func main() {
	issuer := flag.String("issuer", "", "the provider's base URL, e.g. https://127.0.0.1:8443")
	ca := flag.String("ca", "", "PEM CA for the issuer's TLS certificate")
	flag.Parse()
	if *issuer == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: verify -issuer URL [-ca FILE] TOKEN_FILE")
		os.Exit(2)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil || !roots.AppendCertsFromPEM(pem) {
			fmt.Fprintf(os.Stderr, "cannot use %s as a PEM CA\n", *ca)
			os.Exit(2)
		}
	}
	raw, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	keys, err := NewIssuerKeys(*issuer, roots)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	claims, err := Verify(strings.TrimSpace(string(raw)), keys)
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid token: %v\n", err)
		os.Exit(1)
	}
	out, _ := json.MarshalIndent(claims, "", "  ")
	fmt.Println(string(out))
}
