package deploy

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

func loadCompose(t *testing.T) (string, *types.Project) {
	t.Helper()
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
	return root, project
}

// startSteps returns the commands of the "Start" block in the header of
// docker-compose.yml: the comment lines indented under "# Start", up to the
// first line that is not, each without its trailing "# ..." note.
func startSteps(t *testing.T, root string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# Start") {
			in = true
			continue
		}
		if !in {
			continue
		}
		cmd, ok := strings.CutPrefix(line, "#   ")
		if !ok {
			break
		}
		if i := strings.Index(cmd, " #"); i >= 0 {
			cmd = cmd[:i]
		}
		steps = append(steps, strings.TrimSpace(cmd))
	}
	if len(steps) == 0 {
		t.Fatal(`docker-compose.yml has no "# Start" block of "#   command" lines in its header`)
	}
	return steps
}

// TestStartStepsCreateEveryMountedFile runs the documented Start steps
// (except the docker commands: no Docker engine here) in a copy of deploy/
// without the git-ignored deploy/secrets/, then checks that every file or
// folder a service bind-mounts, and every secret file, exists: a fresh
// clone that follows the steps gets a working `docker compose up`.
func TestStartStepsCreateEveryMountedFile(t *testing.T) {
	root, project := loadCompose(t)
	work := t.TempDir()
	err := filepath.WalkDir(filepath.Join(root, "deploy"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == filepath.Join("deploy", "secrets") {
			return filepath.SkipDir // not in git: the steps must create it
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(work, rel), 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(work, rel), raw, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying deploy/: %v", err)
	}
	ran := 0
	for _, step := range startSteps(t, root) {
		if strings.HasPrefix(step, "docker ") {
			continue
		}
		cmd := exec.Command("sh", "-c", step)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("Start step %q failed: %v\n%s", step, err, out)
		}
		ran++
	}
	if ran == 0 {
		t.Fatal("the Start block has only docker commands: nothing creates the secret files")
	}
	needed := map[string]string{} // path relative to root -> who mounts it
	for _, name := range project.ServiceNames() {
		for _, v := range project.Services[name].Volumes {
			if v.Type == types.VolumeTypeBind {
				rel, err := filepath.Rel(root, v.Source)
				if err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("service %s bind-mounts %s, outside the repository", name, v.Source)
					continue
				}
				needed[rel] = "service " + name
			}
		}
	}
	for name, s := range project.Secrets {
		if s.File == "" {
			t.Errorf("secret %s is not a file", name)
			continue
		}
		rel, err := filepath.Rel(root, s.File)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("secret %s is %s, outside the repository", name, s.File)
			continue
		}
		needed[rel] = "secret " + name
	}
	if len(needed) == 0 {
		t.Fatal("found no bind mounts or secret files; the loader output changed?")
	}
	for rel, who := range needed {
		base := work
		if !strings.HasPrefix(rel, "deploy"+string(filepath.Separator)) {
			base = root // tracked files elsewhere in the repository
		}
		info, err := os.Stat(filepath.Join(base, rel))
		if err != nil {
			t.Errorf("%s mounts %s, which the Start steps do not create: %v", who, rel, err)
			continue
		}
		if info.Mode().IsRegular() && info.Size() == 0 {
			t.Errorf("%s mounts %s, which the Start steps leave empty", who, rel)
		}
		if info.Mode().IsRegular() && info.Mode().Perm()&0o004 == 0 {
			t.Errorf("%s mounts %s with mode %v: the services run as uid 10001 and cannot read it", who, rel, info.Mode().Perm())
		}
	}
}

// The services that must report their health: every long-running one but
// the Temporal UI (see its comment in docker-compose.yml).
var mustHaveHealthcheck = []string{"postgresql", "temporal", "worker", "codec-server", "dashboard", "gateway", "prometheus"}

func TestComposeServicesHaveHealthchecks(t *testing.T) {
	_, project := loadCompose(t)
	for _, name := range mustHaveHealthcheck {
		svc, ok := project.Services[name]
		if !ok {
			t.Errorf("no service %s; services: %v", name, project.ServiceNames())
			continue
		}
		hc := svc.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
}

// exactTag: a full version (1.29.1, v2.53.0, 1.26.0-bookworm,
// 1.29.1-tctl-...) or a digest. Images that number releases major.minor
// (PostgreSQL 16.6, Debian 12.11) may give two parts.
var (
	exactTag      = regexp.MustCompile(`^v?\d+\.\d+\.\d+([-.].*)?$`)
	twoPartTag    = regexp.MustCompile(`^\d+\.\d+(-[a-z]+)?$`)
	twoPartImages = map[string]bool{"postgres": true, "debian": true}
)

func checkPinned(image string) string {
	if strings.Contains(image, "@sha256:") {
		return ""
	}
	name, tag, ok := strings.Cut(image, ":")
	if !ok {
		return "has no tag (it means latest)"
	}
	if exactTag.MatchString(tag) || (twoPartImages[name] && twoPartTag.MatchString(tag)) {
		return ""
	}
	return "tag " + tag + " is not an exact version"
}

func TestImagesArePinned(t *testing.T) {
	root, project := loadCompose(t)
	for _, name := range project.ServiceNames() {
		svc := project.Services[name]
		if svc.Build != nil {
			continue // built from the Dockerfile, checked below
		}
		if why := checkPinned(svc.Image); why != "" {
			t.Errorf("service %s: image %s %s", name, svc.Image, why)
		}
	}
	raw, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	froms := 0
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.EqualFold(f[0], "FROM") {
			continue
		}
		froms++
		if why := checkPinned(f[1]); why != "" {
			t.Errorf("Dockerfile: FROM %s %s", f[1], why)
		}
	}
	if froms == 0 {
		t.Error("Dockerfile has no FROM line")
	}
	for _, bad := range []string{"postgres:16", "debian:bookworm-slim", "golang:1.26-bookworm", "prom/prometheus", "temporalio/ui:2.42"} {
		if checkPinned(bad) == "" {
			t.Errorf("checkPinned accepts %s, which moves", bad)
		}
	}
}

// TestReadmeListsEveryService: the README's deployment section names each
// service of docker-compose.yml (as `name`).
func TestReadmeListsEveryService(t *testing.T) {
	root, project := loadCompose(t)
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range project.ServiceNames() {
		if !strings.Contains(string(raw), "`"+name+"`") {
			t.Errorf("README.md does not name the compose service `%s`", name)
		}
	}
}
