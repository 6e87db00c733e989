// Package deploy holds the docker-compose deployment's files; this test
// parses docker-compose.yml with the Compose loader (no Docker engine runs
// here) and checks what the docs promise.
package deploy

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

func TestComposeFileHasThePromisedServices(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	project, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("godwit", true) })
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	cases := []struct {
		service string
		secrets []string
		volumes []string // named volumes or bind targets the service mounts
	}{
		{"temporal", nil, nil},
		{"worker", []string{"godwit-codec-keys", "godwit-gateway-token"}, []string{"godwit-demo"}},
		{"gateway", []string{"godwit-gateway-token"}, []string{"gateway-state", "/etc/godwit/gateway.yaml"}},
		{"prometheus", nil, []string{"/etc/prometheus/prometheus.yml"}},
		{"codec-server", []string{"godwit-codec-keys"}, nil},
		{"dashboard", []string{"godwit-codec-keys", "godwit-dashboard-token"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.service, func(t *testing.T) {
			svc, ok := project.Services[tc.service]
			if !ok {
				t.Fatalf("no service %s; services: %v", tc.service, project.ServiceNames())
			}
			for _, s := range tc.secrets {
				if !slices.ContainsFunc(svc.Secrets, func(r types.ServiceSecretConfig) bool { return r.Source == s }) {
					t.Errorf("does not mount secret %s", s)
				}
				if _, ok := project.Secrets[s]; !ok {
					t.Errorf("secret %s is not declared at the top level", s)
				}
			}
			for _, v := range tc.volumes {
				found := slices.ContainsFunc(svc.Volumes, func(m types.ServiceVolumeConfig) bool { return m.Source == v || m.Target == v })
				if !found {
					t.Errorf("does not mount %s", v)
				}
				if _, named := project.Volumes[v]; !named && v[0] != '/' {
					t.Errorf("volume %s is not declared at the top level", v)
				}
			}
		})
	}
}
