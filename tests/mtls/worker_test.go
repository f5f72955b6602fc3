package mtls

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/chartrender"
	"nautobot-worker/internal/mocks"
	"nautobot-worker/internal/nautobotpod"
	"nautobot-worker/internal/realchart"
	"nautobot-worker/stacks/site"
)

const (
	// defaultGlobalStack is the site stacks' globalStack default under mocks (the file backend's organization).
	defaultGlobalStack = "organization/nautobot-worker/global"
	workerSite         = "dfw1"
	workerStack        = "site-" + workerSite
	workerDeployment   = "nautobot-worker-celery-" + workerSite
	workerContainer    = "nautobot-celery"
	// standinDir is where the sandbox holds the stand-in of the nautobot package (see worker/README.md).
	standinDir = "/opt/nautobot-standin"
	// libpqDir is where the sandbox shows PostgreSQL 17's native/lib (libpq 17, for sslnegotiation=direct).
	libpqDir = "/opt/libpq17"
	// globalMTLSDir holds the global pods' client certificate, for the sender (the global side).
	globalMTLSDir = "/etc/nautobot/global-mtls"
	// siteClientDirEnv names a directory with tls.crt, tls.key and ca.crt to mount as the site's
	// nautobot-mtls-client Secret instead of the set minted from the global stack (e.g. the Secret that
	// External Secrets copied on the local cluster).
	siteClientDirEnv = "NAUTOBOT_SITE_CLIENT_SECRET_DIR"
)

// siteStack runs the site stack's program on the repository's Pulumi.<stack>.yaml under mocks, with the
// global stack's own outputs (its program under mocks on Pulumi.global.yaml) behind the StackReference. It
// returns the worker Chart's registration (the exact chart, release and values the site passes to Helm)
// and the ConfigMaps the stack registers itself (cluster-data), as manifests. redisSiteUser sets the site's
// worker.redisSiteUser (connect as the site's own Redis user, or with the fleet's shared password).
func siteStack(t testing.TB, stack string, redisSiteUser bool) (release, []k8sObject, map[string]any) {
	t.Helper()
	root := repoRoot(t)
	global, err := runGlobalStack(t, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mocks.StackFile(filepath.Join(root, realchart.DemoDir, "Pulumi."+stack+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range cfg {
		cfg[k] = realchart.Rewrite(v)
	}
	const workerKey = "nautobot-worker:worker"
	var workerCfg map[string]any
	if err := json.Unmarshal([]byte(cfg[workerKey]), &workerCfg); err != nil {
		t.Fatalf("%s in Pulumi.%s.yaml: %v", workerKey, stack, err)
	}
	workerCfg["redisSiteUser"] = redisSiteUser
	b, err := json.Marshal(workerCfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg[workerKey] = string(b)
	outputs := map[string]any{}
	for k, v := range global.outputs {
		outputs[k] = plainAny(v)
	}
	m := &mocks.Monitor{StackOutputs: map[string]map[string]any{defaultGlobalStack: outputs}}
	// The stack's relative paths (the chart) are the project's, as for the global stack.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(root); err != nil {
		t.Fatal(err)
	}
	err = mocks.Run(stack, cfg, m, func(ctx *pulumi.Context) error {
		_, err := site.Build(ctx)
		return err
	}, mocks.DryRun)
	if cdErr := os.Chdir(wd); cdErr != nil {
		t.Fatal(cdErr)
	}
	if err != nil {
		t.Fatalf("site stack %s under mocks: %v", stack, err)
	}
	charts := m.OfType("kubernetes:helm.sh/v4:Chart")
	if len(charts) != 1 {
		t.Fatalf("the site stack %s registered %d charts; want 1", stack, len(charts))
	}
	c := charts[0].Plain()
	rel := release{chart: c["chart"].(string), name: c["name"].(string), namespace: c["namespace"].(string),
		values: c["values"].(map[string]any)}
	if !filepath.IsAbs(rel.chart) {
		rel.chart = filepath.Join(root, rel.chart)
	}
	var cms []k8sObject
	for _, r := range m.OfType("kubernetes:core/v1:ConfigMap") {
		p := r.Plain()
		cms = append(cms, k8sObject{"kind": "ConfigMap", "metadata": p["metadata"], "data": p["data"]})
	}
	return rel, cms, global.outputs
}

// plainAny turns typed maps and slices (map[string]string, []string) into the map[string]any/[]any shapes
// a stack output has when it crosses a StackReference.
func plainAny(v any) any {
	switch x := v.(type) {
	case map[string]string:
		out := map[string]any{}
		for k, s := range x {
			out[k] = s
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = plainAny(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainAny(e)
		}
		return out
	}
	return v
}

// expandK8s expands $(VAR) references as the kubelet does in command, args and env values: a defined
// variable is replaced, $$ is a literal $, and an undefined reference stays as written.
func expandK8s(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := vars[name]; ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i : i+3+end])
				}
				i += 2 + end
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// podEnv is a container's environment as the kubelet builds it: envFrom sources in order (configMapRef from
// the rendered and stack ConfigMaps, secretRef from the test's Secrets), then env entries (value with $(VAR)
// expanded, configMapKeyRef, secretKeyRef), later definitions winning. It returns the list in that order
// and the final map.
func podEnv(t testing.TB, ctr map[string]any, configMaps, secrets map[string]map[string][]byte) ([]string, map[string]string) {
	t.Helper()
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	source := func(what string, all map[string]map[string][]byte, ref map[string]any) map[string][]byte {
		name := field[string](ref, "name")
		data, ok := all[name]
		if !ok && !field[bool](ref, "optional") {
			t.Fatalf("%s %s is neither rendered nor provided by the test", what, name)
		}
		return data
	}
	for _, from := range field[[]any](ctr, "envFrom") {
		var data map[string][]byte
		if ref := field[map[string]any](from, "configMapRef"); ref != nil {
			data = source("ConfigMap", configMaps, ref)
		} else if ref := field[map[string]any](from, "secretRef"); ref != nil {
			data = source("Secret", secrets, ref)
		} else {
			t.Fatalf("envFrom %v is not resolved by the test", from)
		}
		for _, k := range sortedKeys(data) {
			set(field[string](from, "prefix")+k, string(data[k]))
		}
	}
	for _, e := range field[[]any](ctr, "env") {
		name := field[string](e, "name")
		switch {
		case field[map[string]any](e, "valueFrom", "secretKeyRef") != nil:
			ref := field[map[string]any](e, "valueFrom", "secretKeyRef")
			v, ok := source("Secret", secrets, ref)[field[string](ref, "key")]
			if !ok {
				t.Fatalf("env %s: Secret %s has no key %s", name, field[string](ref, "name"), field[string](ref, "key"))
			}
			set(name, string(v))
		case field[map[string]any](e, "valueFrom", "configMapKeyRef") != nil:
			ref := field[map[string]any](e, "valueFrom", "configMapKeyRef")
			v, ok := source("ConfigMap", configMaps, ref)[field[string](ref, "key")]
			if !ok {
				t.Fatalf("env %s: ConfigMap %s has no key %s", name, field[string](ref, "name"), field[string](ref, "key"))
			}
			set(name, string(v))
		case field[map[string]any](e, "valueFrom") != nil:
			t.Fatalf("env %s: valueFrom %v is not resolved by the test", name, e)
		default:
			set(name, expandK8s(fmt.Sprint(field[any](e, "value")), vars))
		}
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env, vars
}

// siteWorkerPod is the site's worker pod on this machine: the rendered container, its sandbox (private
// mounts and network, /etc/hosts naming the gateway), and the global side's servers in that network.
type siteWorkerPod struct {
	sb        *podSandbox
	ctr       map[string]any
	env       []string // the container's environment plus what stands in for the image (below)
	sharedEnv []string // env as rendered without worker.redisSiteUser, with the fleet's Redis password
	vars      map[string]string
	argv      []string // the container's command with the stand-in entry point and $(VAR) expanded
	pg17      *pgServer
	redis     *redisServer
	gateway   *router
	dbPort    int // the gateway's listener ports, as the chart's values name them
	redisPort int
	mtlsDir   string // the mounted nautobot-mtls-client Secret, on the host side of the sandbox
	// siteSecret is the global stack's secret of the site's client Certificate (what the site copies).
	siteSecret string
}

// readSecretDir reads tls.crt, tls.key and ca.crt from a Secret-like directory.
func readSecretDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("the site's client Secret: %v", err)
		}
		out[f] = b
	}
	return out
}

// renderedSiteWorker is the real chart rendered with the site stack's values: its objects, the worker's
// Deployment and container, and the ConfigMaps and Secrets its pod sees.
type renderedSiteWorker struct {
	objs                []k8sObject
	dep, ctr            map[string]any
	configMaps, secrets map[string]map[string][]byte
	siteSecret          string // the global stack's secret of the site's client Certificate
}

// renderSiteWorker renders the site's worker with worker.redisSiteUser as given; redisPassword is what the
// site's secrets.redis item holds (External Secrets' copy on the site).
func renderSiteWorker(t *testing.T, redisSiteUser bool, redisPassword string) renderedSiteWorker {
	t.Helper()
	rel, stackConfigMaps, globalOutputs := siteStack(t, workerStack, redisSiteUser)
	siteSecret := fmt.Sprint(plainAny(globalOutputs["siteClientSecrets"]).(map[string]any)[workerSite])
	objs, err := chartrender.Render(rel.chart, rel.name, rel.namespace, rel.values)
	if err != nil {
		t.Fatalf("rendering %s with the site stack's values: %v", rel.chart, err)
	}
	objs = append(objs, stackConfigMaps...)
	dep := findObject(t, objs, "Deployment", workerDeployment)
	ctr := container(t, dep, workerContainer)

	configMaps := map[string]map[string][]byte{}
	secrets := map[string]map[string][]byte{}
	for _, o := range objs {
		name := field[string](o, "metadata", "name")
		switch o["kind"] {
		case "ConfigMap":
			configMaps[name] = map[string][]byte{}
			for k, v := range field[map[string]any](o, "data") {
				configMaps[name][k] = []byte(fmt.Sprint(v))
			}
		case "Secret":
			secrets[name] = map[string][]byte{}
			for k, v := range field[map[string]any](o, "data") {
				b, err := base64.StdEncoding.DecodeString(fmt.Sprint(v))
				if err != nil {
					t.Fatalf("Secret %s key %s: %v", name, k, err)
				}
				secrets[name][k] = b
			}
			for k, v := range field[map[string]any](o, "stringData") {
				secrets[name][k] = []byte(fmt.Sprint(v))
			}
		}
	}
	// The Secrets External Secrets writes on a site, with test values (the site stack's secret names).
	secrets["nautobot-db"] = map[string][]byte{"username": []byte("app"), "password": []byte(appPassword)}
	secrets["nautobot-worker-redis"] = map[string][]byte{"redis-password": []byte(redisPassword)}
	secrets["nautobot-django"] = map[string][]byte{"NAUTOBOT_SECRET_KEY": []byte("test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")}
	secrets["nautobot-custom-env"] = map[string][]byte{}
	// The site's nautobot-mtls-client Secret: what the global stack's Certificate for dfw1 holds (minted, or
	// issued by cert-manager with NAUTOBOT_ISSUED_PKI_DIR), or a directory holding the Secret a site copied.
	if d := os.Getenv(siteClientDirEnv); d != "" {
		secrets["nautobot-mtls-client"] = readSecretDir(t, d)
		t.Logf("the site's client Secret from %s=%s", siteClientDirEnv, d)
	} else if f, ok := getPKI(t).secrets[siteSecret]; ok {
		secrets["nautobot-mtls-client"] = map[string][]byte{"tls.crt": f.crt, "tls.key": f.key, "ca.crt": f.ca}
	} else {
		t.Fatalf("the global stack issues no secret %s for site %s", siteSecret, workerSite)
	}
	return renderedSiteWorker{objs: objs, dep: dep, ctr: ctr, configMaps: configMaps, secrets: secrets, siteSecret: siteSecret}
}

func newSiteWorkerPod(t *testing.T) *siteWorkerPod {
	t.Helper()
	for _, c := range []string{"nginx", "redis-server", "redis-cli", "mount"} {
		requireCommand(t, c)
	}
	requireFile(t, "/usr/bin/python3")
	if out, err := runCommand(t, 60*time.Second, nil, nil, "/usr/bin/python3", "-c", "import celery, kombu, redis, django, psycopg2"); err != nil {
		msg := fmt.Sprintf("/usr/bin/python3 lacks the worker's libraries (%v): %s\ninstall python3-celery python3-kombu python3-redis python3-django python3-psycopg2", err, out)
		if os.Getenv("MTLS_ALLOW_SKIP") == "1" {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	pg17Bin := pg17BinDir(t)
	pg17Lib := filepath.Join(filepath.Dir(pg17Bin), "lib")
	requireFile(t, filepath.Join(pg17Lib, "libpq.so.5"))

	// The site worker as the demo's new installs run it: its own Redis user and that user's password
	// (what the global stack derives for the site). The seed's path (the fleet's password, Redis's default
	// user) is the same chart rendered without worker.redisSiteUser.
	p := getPKI(t)
	sitePassword := p.redisPasswords[workerSite]
	if sitePassword == "" {
		t.Fatalf("the global stack derives no Redis password for %s: %v", workerSite, p.redisPasswords)
	}
	site := renderSiteWorker(t, true, sitePassword)
	shared := renderSiteWorker(t, false, appPassword)
	objs, dep, ctr, secrets, siteSecret := site.objs, site.dep, site.ctr, site.secrets, site.siteSecret
	env, vars := podEnv(t, ctr, site.configMaps, secrets)
	sharedEnv, sharedVars := podEnv(t, shared.ctr, shared.configMaps, shared.secrets)
	if vars["NAUTOBOT_REDIS_USERNAME"] != nautobotpod.SiteIdentity(workerSite) || sharedVars["NAUTOBOT_REDIS_USERNAME"] != "" {
		t.Fatalf("NAUTOBOT_REDIS_USERNAME is %q with worker.redisSiteUser and %q without; want %q and empty",
			vars["NAUTOBOT_REDIS_USERNAME"], sharedVars["NAUTOBOT_REDIS_USERNAME"], nautobotpod.SiteIdentity(workerSite))
	}
	// One sandbox (mounts and Secrets of the first rendering) serves both: the renderings differ only in the
	// Redis user name and its password.
	for k, v := range vars {
		if k != "NAUTOBOT_REDIS_USERNAME" && k != "NAUTOBOT_REDIS_PASSWORD" && sharedVars[k] != v {
			t.Fatalf("without worker.redisSiteUser the worker's %s is %q, with it %q: the test expects only the Redis credentials to differ", k, sharedVars[k], v)
		}
	}
	dbPort, redisPort := 0, 0
	fmt.Sscan(vars["NAUTOBOT_DB_PORT"], &dbPort)
	fmt.Sscan(vars["NAUTOBOT_REDIS_PORT"], &redisPort)
	if vars["NAUTOBOT_DB_HOST"] != dbFQDN || vars["NAUTOBOT_REDIS_HOST"] != redisFQDN || dbPort == 0 || redisPort == 0 {
		t.Fatalf("the worker's database/Redis endpoints %s:%s and %s:%s are not the global stack's gateway names %s and %s",
			vars["NAUTOBOT_DB_HOST"], vars["NAUTOBOT_DB_PORT"], vars["NAUTOBOT_REDIS_HOST"], vars["NAUTOBOT_REDIS_PORT"], dbFQDN, redisFQDN)
	}

	// The chart's command as the kubelet runs it ($(VAR) expanded); nautobot-server is the stand-in's.
	cmd := append(asStrings(field[[]any](ctr, "command")), asStrings(field[[]any](ctr, "args"))...)
	if len(cmd) < 3 || cmd[0] != "nautobot-server" || cmd[1] != "celery" || cmd[2] != "worker" {
		t.Fatalf("the worker container runs %q; the test expects `nautobot-server celery worker ...`", cmd)
	}
	var argv []string
	for _, a := range cmd {
		argv = append(argv, expandK8s(a, vars))
	}

	sb := newPodSandbox(t, "worker-"+workerSite, objs, dep, ctr, secrets)
	w := &siteWorkerPod{sb: sb, ctr: ctr, vars: vars, argv: argv, dbPort: dbPort, redisPort: redisPort, siteSecret: siteSecret,
		mtlsDir: filepath.Join(sb.root, "etc", "nautobot", "mtls")}
	// What the image provides: nautobot-server and the nautobot package (here the stand-in's), libpq 17, a HOSTNAME.
	image := []string{"PATH=" + standinDir + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"PYTHONPATH=" + standinDir, "PYTHONDONTWRITEBYTECODE=1", "LD_LIBRARY_PATH=" + libpqDir,
		"HOSTNAME=" + workerDeployment + "-0", "HOME=/root"}
	w.env = append(env, image...)
	w.sharedEnv = append(sharedEnv, image...)
	standin := filepath.Join(sb.root, filepath.FromSlash(standinDir))
	for _, src := range []string{filepath.Join(repoRoot(t), "assets", "tests", "stub") + "/.", filepath.Join("worker") + "/."} {
		if out, err := runCommand(t, 30*time.Second, nil, nil, "cp", "-r", src, standin+"/"); err != nil {
			t.Fatalf("copying the stand-in: %v\n%s", err, out)
		}
	}
	for _, d := range []string{standin, filepath.Join(sb.root, filepath.FromSlash(libpqDir))} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The sandbox's own /etc/hosts (its /etc is its own, see newPodSandbox) sends the gateway names to its
	// loopback; the machine's /etc/hosts is untouched.
	hosts := filepath.Join(sb.root, "etc", "hosts")
	if err := os.Remove(hosts); err != nil {
		t.Fatal(err)
	}
	writeFile(t, hosts, fmt.Sprintf("127.0.0.1 localhost\n::1 localhost\n127.0.0.1 %s %s %s\n", dbFQDN, redisFQDN, wrongFQDN))
	if err := os.Chmod(hosts, 0o644); err != nil {
		t.Fatal(err)
	}
	global := filepath.Join(sb.root, filepath.FromSlash(globalMTLSDir))
	if err := os.MkdirAll(global, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"tls.crt": setGlobal.cert(), "tls.key": setGlobal.key(), "ca.crt": setGlobal.ca()} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(global, name), b, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	// Only in the sandbox's mount namespace: PostgreSQL 17's libraries appear where LD_LIBRARY_PATH says.
	holder := fmt.Sprint(sb.holder.cmd.Process.Pid)
	for _, bind := range [][2]string{{pg17Lib, filepath.Join(sb.root, filepath.FromSlash(libpqDir))}} {
		if out, err := runCommand(t, 30*time.Second, nil, nil, "nsenter", "--target", holder, "--mount", "--", "mount", "--bind", bind[0], bind[1]); err != nil {
			t.Fatalf("bind %s on %s in the sandbox: %v\n%s", bind[0], bind[1], err, out)
		}
	}

	w.pg17 = startPostgresIn(t, sb, "pg17-worker", pg17Bin, rulesOfTheStack(t))
	// Redis with the users the global stack declares (its chart's master.conf), the fleet's password for default.
	w.redis = startRedisConfigured(t, sb, p.redisServer, redisACL(t, p.globalRelease.values))
	w.gateway = w.startGateway(t, w.pg17.port, w.redis.port)
	return w
}

// startGateway starts the SNI router in the sandbox as the global Envoy Gateway's translated listeners, on
// their own ports (the chart's database and Redis ports must be those for the worker to reach them): the
// stack's database name to pgPort, its Redis name to redisPort; any other name is closed.
func (w *siteWorkerPod) startGateway(t *testing.T, pgPort, redisPort int) *router {
	t.Helper()
	return startRouterFor(t, w.sb, stackTranslation(t), stackBackends(t, pgPort, redisPort), true)
}

// startWorker starts the worker container: the sandbox's mounts plus a private /tmp (the container's own,
// where the chart's probes look for Nautobot's probe files), chrooted, with exactly env.
func (w *siteWorkerPod) startWorker(t *testing.T, name string, env []string) *server {
	t.Helper()
	script := `mount -t tmpfs -o size=16m tmpfs "$0/tmp" && exec chroot "$0" /usr/bin/env -i "$@"`
	args := []string{"--target", fmt.Sprint(w.sb.holder.cmd.Process.Pid), "--mount", "--net", "--",
		"unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, w.sb.root,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	args = append(append(args, env...), w.argv...)
	logPath := filepath.Join(w.sb.root, "."+strings.ReplaceAll(name, " ", "-")+".log")
	return startServer(t, name, nil, syscall.SIGTERM, logPath, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "nsenter", args...)
}

// probe runs the chart's exec probe in the worker container (its mounts, its /tmp), as the kubelet does.
func (w *siteWorkerPod) probe(t *testing.T, worker *server, which string) (string, int) {
	t.Helper()
	if worker.exited() {
		return "container exited", -1
	}
	argv := asStrings(field[[]any](w.ctr, which, "exec", "command"))
	args := []string{"--target", fmt.Sprint(worker.cmd.Process.Pid), "--mount", "--net", "--", "chroot", w.sb.root,
		"/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	args = append(append(args, w.env...), argv...)
	out, err := runCommand(t, time.Duration(max(field[float64](w.ctr, which, "timeoutSeconds"), 1))*time.Second+5*time.Second, nil, nil, "nsenter", args...)
	if err != nil {
		if worker.exited() {
			return "container exited", -1
		}
		return out, 1
	}
	return out, 0
}

// senderEnv is the worker's environment with the global pods' client certificate: the side that queues jobs.
func (w *siteWorkerPod) senderEnv() []string {
	// The global pods are Redis's default user with the fleet's password.
	env := append(append([]string{}, w.env...), "NAUTOBOT_REDIS_USERNAME=", "NAUTOBOT_REDIS_PASSWORD="+appPassword)
	for _, v := range []string{"NAUTOBOT_DB_SSLCERT", "NAUTOBOT_REDIS_SSL_CERTFILE"} {
		env = append(env, v+"="+globalMTLSDir+"/tls.crt")
	}
	for _, v := range []string{"NAUTOBOT_DB_SSLKEY", "NAUTOBOT_REDIS_SSL_KEYFILE"} {
		env = append(env, v+"="+globalMTLSDir+"/tls.key")
	}
	for _, v := range []string{"NAUTOBOT_DB_SSLROOTCERT", "NAUTOBOT_REDIS_SSL_CA_CERTS"} {
		env = append(env, v+"="+globalMTLSDir+"/ca.crt")
	}
	return env
}

// send queues siteprobe.record(marker) on queue through the gateway, with the global client certificate.
func (w *siteWorkerPod) send(t *testing.T, queue, marker string) string {
	t.Helper()
	out, code := w.sb.run(t, 90*time.Second, w.senderEnv(), "/usr/bin/python3", standinDir+"/send_task.py", queue, marker)
	if code != 0 {
		t.Fatalf("sending to %s: exit %d\n%s", queue, code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// redisCLI runs redis-cli in the sandbox through the gateway with the global client certificate.
func (w *siteWorkerPod) redisCLI(t *testing.T, args ...string) string {
	t.Helper()
	argv := append([]string{"redis-cli", "-h", redisFQDN, "-p", fmt.Sprint(w.redisPort), "--tls", "--sni", redisFQDN,
		"--cacert", globalMTLSDir + "/ca.crt", "--cert", globalMTLSDir + "/tls.crt", "--key", globalMTLSDir + "/tls.key"}, args...)
	out, code := w.sb.run(t, 20*time.Second, []string{"REDISCLI_AUTH=" + appPassword}, argv...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, out)
	}
	return strings.TrimSpace(out)
}

// requireWorkerRedisUser waits (bounded) until Redis's CLIENT LIST, asked as the global side, shows the
// worker's connections, and only those, besides the one asking: each logged in as user, one of them
// blocked in kombu's BRPOP on the site's queues.
func (w *siteWorkerPod) requireWorkerRedisUser(t *testing.T, worker *server, user string) {
	t.Helper()
	var list string
	waitFor(t, worker, 30*time.Second, "Redis to list only the worker's connections, as "+user, func() error {
		list = w.redisCLI(t, "CLIENT", "LIST")
		consuming := false
		for _, line := range strings.Split(list, "\n") {
			client := map[string]string{}
			for _, kv := range strings.Fields(line) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					client[k] = v
				}
			}
			if client["cmd"] == "client|list" {
				continue // the asking connection
			}
			if client["user"] != user {
				return fmt.Errorf("a connection of user %q: %s", client["user"], line)
			}
			consuming = consuming || client["cmd"] == "brpop"
		}
		if !consuming {
			return fmt.Errorf("no connection of %s in BRPOP", user)
		}
		return nil
	})
	t.Logf("CLIENT LIST:\n%s", list)
}

// query reads from database app as the superuser over PostgreSQL's Unix socket (outside the gateway).
func (pg *pgServer) query(t *testing.T, sql string, args ...any) [][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn := pg.superuser(t, ctx, "app")
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("%s: %s: %v", pg.label, sql, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// setClientFiles replaces the mounted nautobot-mtls-client Secret's files (nil content: the file is absent).
func (w *siteWorkerPod) setClientFiles(t *testing.T, files map[string][]byte) {
	t.Helper()
	for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
		path := filepath.Join(w.mtlsDir, f)
		_ = os.Remove(path)
		if files[f] != nil {
			if err := os.WriteFile(path, files[f], 0o400); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// waitLog waits for want in the server's log.
func waitLog(t *testing.T, s *server, timeout time.Duration, want string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	has := func() bool { return strings.Contains(reSSLLine.ReplaceAllString(s.log(t), "(_ssl.c:N)"), want) }
	for !has() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %s; log:\n%s", s.name, want, timeout, lastLines(s.log(t), 40))
		}
		if s.exited() && !has() {
			t.Fatalf("%s exited without logging %q; log:\n%s", s.name, want, lastLines(s.log(t), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func certSerial(t testing.TB, pemBytes []byte) string {
	t.Helper()
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatal("no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return new(big.Int).Set(c.SerialNumber).String()
}

// TestCeleryWorkerConsumesItsSiteQueue runs the site's Celery worker as the real chart renders it from the
// site stack's values (dfw1, Pulumi.site-dfw1.yaml under mocks): its command, environment and mounts, in a
// pod sandbox whose /etc/hosts sends the global stack's gateway names to an SNI router in front of
// PostgreSQL 17 and Redis, both configured as the global stack configures them (see worker/README.md for
// the stand-in of Nautobot's Celery app).
func TestCeleryWorkerConsumesItsSiteQueue(t *testing.T) {
	w := newSiteWorkerPod(t)
	siteFiles := readSecretDir(t, w.mtlsDir)

	t.Run("the worker consumes its site queue and writes to PostgreSQL over mTLS", func(t *testing.T) {
		worker := w.startWorker(t, "worker dfw1", w.env)
		// Consuming, but the global side has not migrated yet: the readiness probe's database check says so.
		waitLog(t, worker, 60*time.Second, " ready.")
		if out, code := w.probe(t, worker, "readinessProbe"); code == 0 || !strings.Contains(out, "Planned operations:\nsiteprobe.0001_initial") {
			t.Errorf("readinessProbe before the database is migrated: exit %d %q; want a failure naming siteprobe.0001_initial", code, out)
		}
		// Nautobot's migrations run on the global side; here Django's migrate creates the test app's tables.
		if out, code := w.sb.run(t, 90*time.Second, w.senderEnv(), standinDir+"/bin/nautobot-server", "migrate", "siteprobe"); code != 0 {
			t.Fatalf("migrate: exit %d\n%s\nPostgreSQL log:\n%s", code, out, lastLines(w.pg17.log(t), 20))
		}
		waitReady(t, w, worker)
		marker := fmt.Sprintf("dfw1-%d", time.Now().UnixNano())
		id := w.send(t, workerSite, marker)
		other := w.send(t, "default", "default-"+marker)
		waitLog(t, worker, 60*time.Second, fmt.Sprintf("Task siteprobe.record[%s] succeeded", id))
		rows := w.pg17.query(t, "SELECT queue, site, ssl, ssl_version, client_dn, client_serial FROM siteprobe_taskrun WHERE marker = $1", marker)
		want := []string{workerSite, workerSite, "true", "TLSv1.3", "/CN=" + nautobotpod.SiteIdentity(workerSite), certSerial(t, siteFiles["tls.crt"])}
		if len(rows) != 1 || strings.Join(rows[0], "|") != strings.Join(want, "|") {
			t.Errorf("rows for %s: %q; want one %q", marker, rows, want)
		}
		if got := w.pg17.query(t, "SELECT status FROM siteprobe_taskresult WHERE task_id = $1", id); len(got) != 1 || got[0][0] != "SUCCESS" {
			t.Errorf("stored result of %s: %q; want SUCCESS", id, got)
		}
		// The default queue's task is not the site's: still waiting in Redis, never run.
		if n := w.redisCLI(t, "LLEN", "default"); n != "1" {
			t.Errorf("LLEN default = %s; want 1 (the task sent to default, %s)", n, other)
		}
		if strings.Contains(worker.log(t), other) || len(w.pg17.query(t, "SELECT 1 FROM siteprobe_taskrun WHERE marker = $1", "default-"+marker)) != 0 {
			t.Errorf("the dfw1 worker ran the default queue's task %s", other)
		}
		// Redis tells this worker from the global pods: every connection it holds is the site's user (the
		// sender's, default, end with it), and none of what Celery, kombu and redis-py asked was refused.
		w.requireWorkerRedisUser(t, worker, nautobotpod.SiteIdentity(workerSite))
		if log := w.redisCLI(t, "ACL", "LOG"); strings.Contains(log, nautobotpod.SiteIdentity(workerSite)) {
			t.Errorf("Redis refused the site worker something (ACL LOG):\n%s", log)
		}
		// Both connections went through the gateway by SNI.
		access := strings.Join(w.gateway.accessLines(t), "\n")
		for _, want := range []string{fmt.Sprintf(`sni="%s" alpn="postgresql"`, dbFQDN), fmt.Sprintf(`sni="%s" alpn=""`, redisFQDN)} {
			if !strings.Contains(access, want) {
				t.Errorf("gateway logged no session with %s:\n%s", want, access)
			}
		}
		for _, which := range []string{"readinessProbe", "livenessProbe"} {
			if out, code := w.probe(t, worker, which); code != 0 {
				t.Errorf("the %s fails on a working worker: exit %d %q", which, code, out)
			}
		}
		t.Logf("worker log:\n%s", lastLines(worker.log(t), 30))
	})

	t.Run("the seed's path: the fleet's shared password, Redis's default user", func(t *testing.T) {
		worker := w.startWorker(t, "worker dfw1 shared password", w.sharedEnv)
		waitReady(t, w, worker)
		marker := fmt.Sprintf("dfw1-shared-%d", time.Now().UnixNano())
		if got := w.recordThrough(t, worker, marker); got != certSerial(t, siteFiles["tls.crt"]) {
			t.Errorf("the worker's PostgreSQL connection presents serial %s; want the site's %s", got, certSerial(t, siteFiles["tls.crt"]))
		}
		w.requireWorkerRedisUser(t, worker, "default")
	})

	parent := t
	t.Run("renewal: new certificate files on disk, Redis restarted, no worker restart", func(t *testing.T) {
		defer w.setClientFiles(t, siteFiles)
		worker := w.startWorker(t, "worker renewal", w.env)
		waitReady(t, w, worker)
		oldSerial := certSerial(t, siteFiles["tls.crt"])
		if got := w.recordThrough(t, worker, "before-renewal"); got != oldSerial {
			t.Fatalf("before renewal the worker's PostgreSQL connection presents serial %s; want %s (the mounted certificate)", got, oldSerial)
		}
		renewed := renewSiteCertificate(t, w.siteSecret)
		// As the kubelet updates a Secret volume: the new files appear at once, the pod is not restarted.
		w.setClientFiles(t, map[string][]byte{"tls.crt": renewed.crt, "tls.key": renewed.key, "ca.crt": siteFiles["ca.crt"]})
		newSerial := certSerial(t, renewed.crt)
		connected := strings.Count(worker.log(t), "Connected to rediss://")
		w.restartRedis(parent)
		// PostgreSQL drops the worker's connections too (a restart or failover; CONN_MAX_AGE would end them later).
		w.pg17.superuserExec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'")
		waitFor(t, worker, 60*time.Second, "the worker to reconnect to Redis", func() error {
			if strings.Count(worker.log(t), "Connected to rediss://") > connected {
				return nil
			}
			return fmt.Errorf("not reconnected yet")
		})
		// Django (CONN_MAX_AGE) keeps the pool process's connection, which PostgreSQL closed: the first task
		// that uses it fails, and Celery's Django fix-up then closes it; later tasks connect afresh.
		var got string
		for attempt := 1; got == "" && attempt <= 3; attempt++ {
			got = w.tryRecord(t, worker, fmt.Sprintf("after-renewal-%d", attempt))
		}
		if got != newSerial {
			t.Errorf("after renewal the worker's new PostgreSQL connection presents serial %s; want the renewed %s (old %s)", got, newSerial, oldSerial)
		}
		t.Logf("serial before %s, after %s; worker log:\n%s", oldSerial, newSerial, lastLines(worker.log(t), 12))
	})

	for _, c := range workerFailures(t) {
		t.Run("refused: "+c.name, func(t *testing.T) {
			files := siteFiles
			if c.files != nil {
				files = c.files(t, siteFiles)
			}
			w.setClientFiles(t, files)
			defer w.setClientFiles(t, siteFiles)
			var pg15 *pgServer
			if c.pg15 {
				pg15 = startPostgresIn(t, w.sb, "pg15-worker", pg15BinDir, rulesOfTheStack(t))
				w.gateway.stop(t, syscall.SIGTERM)
				w.gateway = w.startGateway(t, pg15.port, w.redis.port)
			}
			if c.impostor != "" {
				// The gateway name leads to a server presenting the other server's certificate; afterwards
				// the genuine routes come back, for the parent test's lifetime.
				p := getPKI(t)
				pgPort, redisPort := w.pg17.port, w.redis.port
				switch c.impostor {
				case "redis":
					redisPort = startRedisServing(t, w.sb, p.postgresServer).port
				case "postgres":
					pgPort = startPostgresServing(t, w.sb, "pg17-impostor", pg17BinDir(t), rulesOfTheStack(t), p.redisServer).port
				}
				w.gateway.stop(t, syscall.SIGTERM)
				w.gateway = w.startGateway(t, pgPort, redisPort)
				defer func() {
					w.gateway.stop(t, syscall.SIGTERM)
					w.gateway = w.startGateway(parent, w.pg17.port, w.redis.port)
				}()
			}
			worker := w.startWorker(t, "worker "+c.name, append(append([]string{}, w.env...), c.env...))
			if c.pg15 || c.impostor == "postgres" {
				w.send(t, workerSite, "a task that needs the database")
			}
			waitLog(t, worker, 60*time.Second, c.want)
			if c.exits {
				select {
				case <-worker.done:
				case <-time.After(30 * time.Second):
					t.Fatalf("the worker did not exit after %q", c.want)
				}
				if code := worker.cmd.ProcessState.ExitCode(); code == 0 {
					t.Errorf("the worker exited 0 after %q", c.want)
				}
			}
			if out, code := w.probe(t, worker, "readinessProbe"); code == 0 {
				t.Errorf("the readinessProbe passes on a worker that cannot connect")
			} else if !strings.Contains(out, c.readinessSays) {
				t.Errorf("the readinessProbe's output %q does not name the cause %q", out, c.readinessSays)
			}
			out, code := w.probe(t, worker, "livenessProbe")
			switch {
			case c.alive && code != 0:
				t.Errorf("the livenessProbe: exit %d %q; a database outage must not restart the worker", code, out)
			case !c.alive && code == 0:
				t.Errorf("the livenessProbe passes on a worker that cannot reach its broker")
			}
			switch {
			case c.redisLog != "":
				w.redis.logSince(t, 0, c.redisLog)
			case c.gatewayLog != "":
				if access := strings.Join(w.gateway.accessLines(t), "\n"); !strings.Contains(access, c.gatewayLog) {
					t.Errorf("gateway logged no %s:\n%s", c.gatewayLog, access)
				}
			case pg15 != nil:
				// PostgreSQL 15 reads the direct TLS ClientHello as a startup packet.
				pg15.logSince(t, 0, "LOG:  invalid length of startup packet")
			}
		})
	}
}

// workerFailure is a site worker that cannot do its job, and the message the real libraries log for it.
type workerFailure struct {
	name  string
	files func(t testing.TB, site map[string][]byte) map[string][]byte // the mounted client Secret's files
	env   []string                                                     // added to the container's environment
	pg15  bool                                                         // the gateway's database route goes to PostgreSQL 15
	// impostor, "postgres" or "redis", routes that gateway name to a server presenting the other server's
	// certificate: signed by the same CA for server auth, but not for the name the worker connects to.
	impostor string
	want     string // in the worker's log (normalized)
	exits    bool   // the container ends (CrashLoopBackOff) instead of retrying
	// readinessSays is in the readiness probe's output (the kubelet's event); the probe fails in every case.
	readinessSays string
	// alive: the liveness probe passes (it watches the broker connection only, so that an outage of the
	// global database makes every site's worker unready rather than restarting them all).
	alive      bool
	redisLog   string // what Redis logs for the attempt
	gatewayLog string // what the gateway logs for the attempt
}

func workerFailures(t *testing.T) []workerFailure {
	p := getPKI(t)
	// libpq names the first of the presented certificate's names and counts the others.
	redisNames := p.specs[secretOf(t, p.redisServer)].Spec.DNSNames
	libpqMismatch := fmt.Sprintf(`server certificate for "%s" (and %d other names) does not match host name "%s"`, redisNames[0], len(redisNames)-1, dbFQDN)
	otherCA := func(t testing.TB, _ map[string][]byte) map[string][]byte {
		return readSecretDir(t, filepath.Dir(setOtherCA.cert()))
	}
	siteUser := nautobotpod.SiteIdentity(workerSite)
	cannot := "consumer: Cannot connect to rediss://" + siteUser + ":**@" + redisFQDN + ":6379/0: "
	var otherSite string
	for _, s := range p.sites {
		if s != workerSite {
			otherSite = s
			break
		}
	}
	// The readiness probe's own words when Nautobot never wrote its readiness file.
	notConsuming := "nautobot_celery_worker_ready: the Celery worker has not started consuming"
	return []workerFailure{
		{name: "no client certificate", exits: true, readinessSays: "container exited",
			files: func(_ testing.TB, s map[string][]byte) map[string][]byte {
				return map[string][]byte{"ca.crt": s["ca.crt"]}
			},
			want: "FileNotFoundError: SSL certificate file required by NAUTOBOT_DB_SSLCERT not found: /etc/nautobot/mtls/tls.crt"},
		{name: "missing ca.crt", exits: true, readinessSays: "container exited",
			files: func(_ testing.TB, s map[string][]byte) map[string][]byte {
				return map[string][]byte{"tls.crt": s["tls.crt"], "tls.key": s["tls.key"]}
			},
			want: "FileNotFoundError: SSL certificate file required by NAUTOBOT_DB_SSLROOTCERT not found: /etc/nautobot/mtls/ca.crt"},
		{name: "certificate from another CA", files: otherCA, readinessSays: notConsuming,
			want:     cannot + "Error while reading from " + redisFQDN + ":6379 : (1, '[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:N)').",
			redisLog: "Error accepting a client connection: error:0A000086:SSL routines::certificate verify failed"},
		{name: "client certificate placed in ca.crt", readinessSays: notConsuming,
			files: func(_ testing.TB, s map[string][]byte) map[string][]byte {
				return map[string][]byte{"tls.crt": s["tls.crt"], "tls.key": s["tls.key"], "ca.crt": s["tls.crt"]}
			},
			want:     cannot + "Error 1 connecting to " + redisFQDN + ":6379. [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain (_ssl.c:N)..",
			redisLog: "Error accepting a client connection: error:0A000418:SSL routines::tlsv1 alert unknown ca"},
		{name: "key and certificate swapped", readinessSays: notConsuming,
			files: func(_ testing.TB, s map[string][]byte) map[string][]byte {
				return map[string][]byte{"tls.crt": s["tls.key"], "tls.key": s["tls.crt"], "ca.crt": s["ca.crt"]}
			},
			want: cannot + "Error 524297 connecting to " + redisFQDN + ":6379. [SSL] PEM lib (_ssl.c:N).."},
		// The site's certificate with another site's Redis password: Redis refuses the pair.
		{name: "another site's Redis password", env: []string{"NAUTOBOT_REDIS_PASSWORD=" + p.redisPasswords[otherSite]}, readinessSays: notConsuming,
			want: cannot + "WRONGPASS invalid username-password pair or user is disabled.."},
		{name: "wrong SNI name", env: []string{"NAUTOBOT_REDIS_HOST=" + wrongFQDN}, readinessSays: notConsuming,
			want:       "consumer: Cannot connect to rediss://" + siteUser + ":**@" + wrongFQDN + ":6379/0: Error 6 connecting to " + wrongFQDN + ":6379. TLS/SSL connection has been closed (EOF) (_ssl.c:N)..",
			gatewayLog: `127.0.0.1:6379 sni="` + wrongFQDN + `" alpn="" upstream="unix:`},
		// The worker checks the names by default (verify-full, ssl_check_hostname): another certificate of the
		// CA does not pass for either server.
		{name: "a Redis presenting the PostgreSQL server's certificate", impostor: "redis", readinessSays: notConsuming,
			want: cannot + "Error 1 connecting to " + redisFQDN + ":6379. [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: " +
				"Hostname mismatch, certificate is not valid for '" + redisFQDN + "'. (_ssl.c:N).."},
		{name: "a PostgreSQL presenting the Redis server's certificate", impostor: "postgres", alive: true,
			want:          `django.db.utils.OperationalError: connection to server at "` + dbFQDN + `" (127.0.0.1), port 5432 failed: ` + libpqMismatch,
			readinessSays: libpqMismatch},
		{name: "PostgreSQL 15 behind the gateway", pg15: true, alive: true,
			want:          `django.db.utils.OperationalError: connection to server at "` + dbFQDN + `" (127.0.0.1), port 5432 failed: SSL SYSCALL error: EOF detected`,
			readinessSays: `port 5432 failed: SSL SYSCALL error: EOF detected`},
	}
}

// recordThrough runs siteprobe.record through the worker and returns the client certificate serial
// PostgreSQL saw on the connection that wrote the row (pg_stat_ssl.client_serial).
func (w *siteWorkerPod) recordThrough(t *testing.T, worker *server, marker string) string {
	t.Helper()
	id := w.send(t, workerSite, marker)
	waitLog(t, worker, 60*time.Second, fmt.Sprintf("Task siteprobe.record[%s] succeeded", id))
	rows := w.pg17.query(t, "SELECT client_serial FROM siteprobe_taskrun WHERE marker = $1", marker)
	if len(rows) != 1 {
		t.Fatalf("rows for %s: %q", marker, rows)
	}
	return rows[0][0]
}

// tryRecord is recordThrough for a task that may fail: "" when it did (its error is logged).
func (w *siteWorkerPod) tryRecord(t *testing.T, worker *server, marker string) string {
	t.Helper()
	id := w.send(t, workerSite, marker)
	ok, failed := fmt.Sprintf("Task siteprobe.record[%s] succeeded", id), fmt.Sprintf("Task siteprobe.record[%s] raised unexpected: ", id)
	var line string
	waitFor(t, worker, 60*time.Second, "task "+id+" to end", func() error {
		for _, l := range strings.Split(worker.log(t), "\n") {
			if strings.Contains(l, ok) || strings.Contains(l, failed) {
				line = l
				return nil
			}
		}
		return fmt.Errorf("task %s still running", id)
	})
	if strings.Contains(line, failed) {
		var errs []string
		for _, l := range strings.Split(worker.log(t), "\n") {
			if strings.HasPrefix(l, "django.db.utils.") || strings.HasPrefix(l, "psycopg2.") {
				errs = append(errs, l)
			}
		}
		t.Logf("task %s failed: %s; database errors in the worker log: %q", id, line[strings.Index(line, failed)+len(failed):], errs)
		return ""
	}
	rows := w.pg17.query(t, "SELECT client_serial FROM siteprobe_taskrun WHERE marker = $1", marker)
	if len(rows) != 1 {
		t.Fatalf("rows for %s: %q", marker, rows)
	}
	return rows[0][0]
}

// restartRedis stops Redis and starts it again with the same command (same port and configuration); the
// new process belongs to the test t (its cleanup), not to a subtest.
func (w *siteWorkerPod) restartRedis(t *testing.T) {
	t.Helper()
	old := w.redis.server
	old.stop(t, syscall.SIGTERM)
	srv := startServer(t, "redis restarted", nil, syscall.SIGTERM, old.logPath+".restarted", old.cmd.Env, old.cmd.Path, old.cmd.Args[1:]...)
	w.sb.waitForTCP(t, srv, w.redis.port)
	w.redis.server = srv
}

// renewSiteCertificate issues the site's Certificate again, as cert-manager does on renewal (a new key,
// rotationPolicy Always), signed by the stack's CA.
func renewSiteCertificate(t *testing.T, secretName string) secretFiles {
	t.Helper()
	p := getPKI(t)
	spec, ok := p.specs[secretName]
	if !ok {
		t.Fatalf("the global stack has no Certificate for secret %s", secretName)
	}
	var caSecret string
	for name, c := range p.specs {
		if c.Spec.IsCA {
			caSecret = name
		}
	}
	ca := p.secrets[caSecret]
	if len(ca.key) == 0 {
		t.Skipf("no CA key to sign a renewal with (%s)", p.source)
	}
	key, err := pki.DecodePrivateKeyBytes(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := pki.DecodeX509CertificateBytes(ca.crt)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := issue(spec, &issuedKeyPair{signer: key, cert: caCert, secretFiles: ca}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return kp.secretFiles
}

// waitReady probes readiness as the kubelet does until it passes (bounded).
func waitReady(t *testing.T, w *siteWorkerPod, worker *server) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, code := w.probe(t, worker, "readinessProbe")
		if code == 0 {
			return
		}
		if time.Now().After(deadline) || worker.exited() {
			t.Fatalf("the worker never became ready (probe exit %d %q); log:\n%s", code, out, lastLines(worker.log(t), 40))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
