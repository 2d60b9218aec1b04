package scenarios

import (
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// identityKind makes a principal of one kind of Azure identity, gives it a
// role on the registry and configures a machine to use it.
type identityKind struct {
	name string
	// grant returns the counter that counts the identity's Azure AD token
	// requests (per principal for applications, per endpoint otherwise).
	grant func(t *testing.T, emu *emulator.Emulator, env *harness.Env, s *harness.Secrets, role emulator.Role) string
}

var identityKinds = []identityKind{
	{name: "ServicePrincipalSecret", grant: func(t *testing.T, emu *emulator.Emulator, env *harness.Env, s *harness.Secrets, role emulator.Role) string {
		clientID := "sp-" + role.String()
		secret := s.Plant(planted("sp-secret"))
		emu.AssignRole(registry, emu.AddServicePrincipal(tenantA, clientID, secret), role)
		env.Set("AZURE_TENANT_ID", tenantA, "AZURE_CLIENT_ID", clientID, "AZURE_CLIENT_SECRET", secret)
		return "aad.token@" + clientID
	}},
	{name: "ServicePrincipalCertificate", grant: func(t *testing.T, emu *emulator.Emulator, env *harness.Env, s *harness.Secrets, role emulator.Role) string {
		clientID := "cert-" + role.String()
		pemPath, err := emu.AddServicePrincipalCert(tenantA, clientID)
		require.NoError(t, err)
		s.Plant(privateKeyFragment(t, pemPath))
		emu.AssignRole(registry, emu.ObjectID(tenantA, clientID), role)
		env.Set("AZURE_TENANT_ID", tenantA, "AZURE_CLIENT_ID", clientID, "AZURE_CLIENT_CERTIFICATE_PATH", pemPath)
		return "aad.token@" + clientID
	}},
	{name: "WorkloadIdentity", grant: func(t *testing.T, emu *emulator.Emulator, env *harness.Env, s *harness.Secrets, role emulator.Role) string {
		clientID := "wi-" + role.String()
		tokenFile, err := emu.AddFederatedIdentity(tenantA, clientID)
		require.NoError(t, err)
		assertion, err := os.ReadFile(tokenFile)
		require.NoError(t, err)
		s.Plant(strings.TrimSpace(string(assertion)))
		emu.AssignRole(registry, emu.ObjectID(tenantA, clientID), role)
		env.Set("AZURE_TENANT_ID", tenantA, "AZURE_CLIENT_ID", clientID, "AZURE_FEDERATED_TOKEN_FILE", tokenFile)
		return "aad.token@" + clientID
	}},
	{name: "ManagedIdentity", grant: func(t *testing.T, emu *emulator.Emulator, env *harness.Env, s *harness.Secrets, role emulator.Role) string {
		// App Service style endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER).
		// The Contributor is the system-assigned identity, found by the
		// default chain (managed identity "auto": the endpoint variables
		// make it apply without any IMDS probe); the Reader is a
		// user-assigned identity named in the helper's configuration.
		env.SetAll(emu.ManagedIdentityEnv())
		for _, kv := range emu.ManagedIdentityEnv() {
			if k, v, _ := strings.Cut(kv, "="); k == "IDENTITY_HEADER" {
				s.Plant(v)
			}
		}
		if role == emulator.Contributor {
			mi := emu.SetManagedIdentity(tenantA)
			emu.AssignRole(registry, mi.ObjectID, role)
			env.Set("DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY", "auto")
		} else {
			mi := emu.AddUserAssignedIdentity(tenantA, "reader-uami")
			emu.AssignRole(registry, mi.ObjectID, role)
			env.WriteConfig(t, fmt.Sprintf(`{"registries": {%q: {"identity": "managedidentity", "clientId": %q}}}`, registry, mi.ClientID))
		}
		return "msi"
	}},
	{name: "AzureCLI", grant: func(t *testing.T, emu *emulator.Emulator, env *harness.Env, s *harness.Secrets, role emulator.Role) string {
		oid := emu.AddUser(tenantA, strings.ToLower(role.String())+"@contoso.example")
		emu.AssignRole(registry, oid, role)
		require.NoError(t, emu.SetAzureCLIUser(oid))
		dir, err := emu.AzBinDir()
		require.NoError(t, err)
		env.PrependPath(dir)
		return "az"
	}},
}

// privateKeyFragment returns a piece of the PEM file's private key, as it
// would appear if the helper printed the key.
func privateKeyFragment(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		require.NotNil(t, blk, "no private key in %s", path)
		if strings.Contains(blk.Type, "PRIVATE KEY") {
			enc := string(pem.EncodeToMemory(blk))
			lines := strings.Split(enc, "\n")
			require.Greater(t, len(lines), 3)
			return lines[2] // a full base64 line from the key's middle
		}
	}
}

// TestPushAsContributorPullAsReader: for each kind of Azure identity, a CI
// machine pushes with crane as Contributor, a developer machine pulls with
// crane (and inspects with the docker CLI when installed) as Reader, and its
// push is refused. Each machine makes one Azure AD token request and one
// exchange; everything after that is served from its cache.
func TestPushAsContributorPullAsReader(t *testing.T) {
	t.Parallel()
	for _, kind := range identityKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			emu := startEmulator(t, emulator.Options{})
			secrets := &harness.Secrets{}
			exchanges := newCounter(emu, "acr.exchange@"+registry)
			ref := registry + "/" + strings.ToLower(kind.name) + "/app:1"

			ci := machine(t, emu, secrets)
			aad := newCounter(emu, kind.grant(t, emu, ci, secrets, emulator.Contributor))
			pushed := cranePush(t, ci, ref)
			require.Equal(t, pushed, craneDigest(t, ci, ref))
			require.Equal(t, 1, aad.delta(), "Azure AD token requests of the Contributor")
			require.Equal(t, 1, exchanges.delta(), "exchanges of the Contributor")

			dev := machine(t, emu, secrets)
			aad = newCounter(emu, kind.grant(t, emu, dev, secrets, emulator.Reader))
			cranePull(t, dev, ref)
			require.Equal(t, pushed, craneDigest(t, dev, ref))
			if _, err := harness.LookDocker(); err == nil {
				r := dev.Docker(t, "", "manifest", "inspect", ref)
				require.Equal(t, 0, r.Code, "docker manifest inspect:\n%s", r)
				require.Contains(t, r.Stdout, `"schemaVersion": 2`)
			}
			requireRefused(t, dev.Crane(t, "append", "--new_layer", randomLayer(t), "--new_tag", registry+"/"+strings.ToLower(kind.name)+"/app:2"), "a Reader's push")
			require.Equal(t, 1, aad.delta(), "Azure AD token requests of the Reader")
			require.Equal(t, 1, exchanges.delta(), "exchanges of the Reader")
			requireNothingRefused(t, emu)
			t.Logf("counters: %v", emu.Counts())
		})
	}
}
