package acr_test

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/acr"
)

// A go-containerregistry program (crane, ko, cosign...) pushes and pulls
// with Docker's keychain first and ACR's second. In a real program the
// keychain is just acr.Keychain(): the identity comes from the environment
// or the helper's configuration. Here a fake ACR on loopback stands in for
// Azure AD and myregistry.azurecr.io, so the example runs anywhere.
func ExampleKeychain() {
	fake := startFakeACR()
	defer fake.Close()

	kc := authn.NewMultiKeychain(authn.DefaultKeychain, acr.Keychain(
		// Only for the fake: its Azure AD, its TLS, no cache on disk.
		acr.WithTokenCredential(fake.Credential(), ""),
		acr.WithHTTPClient(fake.Client()),
		acr.WithoutCache(),
	))

	ref, err := name.ParseReference("myregistry.azurecr.io/app:1.0")
	if err != nil {
		panic(err)
	}
	img, _ := random.Image(1024, 2)
	opts := []remote.Option{remote.WithAuthFromKeychain(kc), remote.WithTransport(fake.Transport())}
	if err := remote.Write(ref, img, opts...); err != nil {
		panic(err)
	}
	pulled, err := remote.Image(ref, opts...)
	if err != nil {
		panic(err)
	}
	want, _ := img.Digest()
	got, _ := pulled.Digest()
	fmt.Println("pulled what was pushed:", got == want)
	fmt.Println("token exchanges:", fake.Exchanges())
	// Output:
	// pulled what was pushed: true
	// token exchanges: 1
}

// Registries that are not Azure Container Registry resolve to
// authn.Anonymous at once, without asking Azure AD anything, so the keychain
// can sit in any authn.NewMultiKeychain. Look-alike hosts are not ACR.
func ExampleKeychain_anonymous() {
	kc := acr.Keychain()
	for _, reg := range []string{"ghcr.io", "myregistry.azurecr.io.evil.com"} {
		r, err := name.NewRegistry(reg)
		if err != nil {
			panic(err)
		}
		auth, err := kc.Resolve(r)
		fmt.Println(reg, auth == authn.Anonymous, err)
	}
	// Output:
	// ghcr.io true <nil>
	// myregistry.azurecr.io.evil.com true <nil>
}

// containerd's docker.WithAuthCreds (and buildkit, oras-go) want a callback
// from host to username and secret; an empty answer means anonymous.
func ExampleCredentials() {
	fake := startFakeACR()
	defer fake.Close()

	creds := acr.Credentials(
		// Only for the fake: a real program calls acr.Credentials().
		acr.WithTokenCredential(fake.Credential(), ""),
		acr.WithHTTPClient(fake.Client()),
		acr.WithoutCache(),
	)
	// containerd: docker.WithAuthCreds(authCreds)
	authCreds := func(host string) (string, string, error) { return creds(context.Background(), host) }

	for _, host := range []string{"registry-1.docker.io", "myregistry.azurecr.io"} {
		user, secret, err := authCreds(host)
		fmt.Printf("%s: username %q, has secret %v, err %v\n", host, user, secret != "", err)
	}
	// Output:
	// registry-1.docker.io: username "", has secret false, err <nil>
	// myregistry.azurecr.io: username "00000000-0000-0000-0000-000000000000", has secret true, err <nil>
}
