package mtls

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// podSandbox runs a container's processes the way its pod spec says, on this machine: at the paths its
// volumeMounts name (a root of its own, holding the host's /usr, /etc, /dev, /proc and /tmp plus the
// volumes), in a network namespace of its own with only loopback, so the chart's ports and Redis's
// bind-everything default stay as rendered and still reach nothing outside the sandbox. The mounts live
// in a private mount namespace: the host never sees them.
type podSandbox struct {
	root   string
	holder *server // the process that keeps the namespaces alive; commands join it with nsenter
}

// k8sObject is one rendered object (a Kubernetes manifest decoded as plain data).
type k8sObject = map[string]any

func field[T any](obj any, keys ...string) T {
	var zero T
	for _, k := range keys {
		m, ok := obj.(map[string]any)
		if !ok {
			return zero
		}
		obj = m[k]
	}
	v, _ := obj.(T)
	return v
}

// findObject returns the rendered object of kind and name.
func findObject(t testing.TB, objs []k8sObject, kind, name string) k8sObject {
	t.Helper()
	var names []string
	for _, o := range objs {
		if o["kind"] == kind {
			n := field[string](o, "metadata", "name")
			if n == name {
				return o
			}
			names = append(names, n)
		}
	}
	t.Fatalf("the chart renders no %s %q (its %ss: %v)", kind, name, kind, names)
	return nil
}

// container returns the pod template's container of that name.
func container(t testing.TB, workload k8sObject, name string) map[string]any {
	t.Helper()
	for _, c := range field[[]any](workload, "spec", "template", "spec", "containers") {
		if field[string](c, "name") == name {
			return c.(map[string]any)
		}
	}
	t.Fatalf("%s has no container %q", field[string](workload, "metadata", "name"), name)
	return nil
}

func asStrings(list []any) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = fmt.Sprint(v)
	}
	return out
}

// newPodSandbox lays out the container's volume mounts, from the rendered ConfigMaps and the given
// Secrets (name -> key -> content), and starts the namespaces' holder.
func newPodSandbox(t *testing.T, name string, objs []k8sObject, workload, ctr k8sObject, secrets map[string]map[string][]byte) *podSandbox {
	t.Helper()
	for _, c := range []string{"unshare", "nsenter", "chroot", "ip"} {
		requireCommand(t, c)
	}
	root := tempDir(t, "mtls-pod-"+name+"-")
	volumes := map[string]map[string]any{}
	for _, v := range field[[]any](workload, "spec", "template", "spec", "volumes") {
		volumes[field[string](v, "name")] = v.(map[string]any)
	}
	for _, claim := range field[[]any](workload, "spec", "volumeClaimTemplates") {
		volumes[field[string](claim, "metadata", "name")] = map[string]any{"emptyDir": map[string]any{}}
	}
	configMaps := map[string]map[string][]byte{}
	for _, o := range objs {
		if o["kind"] == "ConfigMap" {
			data := map[string][]byte{}
			for k, v := range field[map[string]any](o, "data") {
				data[k] = []byte(fmt.Sprint(v))
			}
			configMaps[field[string](o, "metadata", "name")] = data
		}
	}
	for _, m := range field[[]any](ctr, "volumeMounts") {
		volName, mountPath, subPath := field[string](m, "name"), field[string](m, "mountPath"), field[string](m, "subPath")
		vol, ok := volumes[volName]
		if !ok {
			t.Fatalf("volumeMount %s names no volume of the pod", volName)
		}
		files, mode := volumeFiles(t, vol, configMaps, secrets)
		dst := filepath.Join(root, filepath.FromSlash(mountPath))
		// A subPath of an emptyDir is a directory of its own; of a configMap or secret, one file.
		if subPath != "" && vol["emptyDir"] == nil {
			data, ok := files[subPath]
			if !ok {
				t.Fatalf("volumeMount %s: subPath %s is not in volume %s", mountPath, subPath, volName)
			}
			files, dst = map[string][]byte{path.Base(mountPath): data}, filepath.Dir(dst)
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, data := range files {
			if err := os.WriteFile(filepath.Join(dst, f), data, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Debian's merged /usr: the top-level program and library directories are links into it.
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		if err := os.Symlink("usr/"+l, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	var binds strings.Builder
	hostDirs := []string{"usr", "etc", "dev", "proc", "tmp"}
	// A volume under /etc (e.g. /etc/nautobot/mtls) would be hidden by a bind of the host's /etc: then
	// /etc is a directory of the sandbox's own, holding the volumes and a link for every other entry of the
	// host's /etc into its bind at /.host/etc. Files the test writes there on this side stay visible.
	if _, err := os.Stat(filepath.Join(root, "etc")); err == nil {
		hostDirs[1] = ".host/etc"
		entries, err := os.ReadDir("/etc")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if _, err := os.Lstat(filepath.Join(root, "etc", e.Name())); err == nil {
				continue // a volume's own directory
			}
			if err := os.Symlink("/.host/etc/"+e.Name(), filepath.Join(root, "etc", e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, d := range hostDirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&binds, "mount --rbind /%s %s/%s && ", strings.TrimPrefix(d, ".host/"), root, d)
	}
	ready := filepath.Join(root, ".sandbox-ready")
	script := fmt.Sprintf("set -e; ip link set lo up && %s touch %s && exec sleep %d", binds.String(), ready, int(runDeadline.Seconds()))
	sb := &podSandbox{root: root}
	sb.holder = startServer(t, "sandbox "+name, nil, syscall.SIGKILL, filepath.Join(root, ".sandbox.log"), []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		"unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", script)
	waitFor(t, sb.holder, 10*time.Second, "the sandbox's namespaces", func() error {
		_, err := os.Stat(ready)
		return err
	})
	return sb
}

// volumeFiles are the files a configMap, secret or emptyDir volume shows, with its defaultMode.
func volumeFiles(t testing.TB, vol map[string]any, configMaps, secrets map[string]map[string][]byte) (map[string][]byte, os.FileMode) {
	t.Helper()
	var data map[string][]byte
	var src map[string]any
	switch {
	case vol["configMap"] != nil:
		src = field[map[string]any](vol, "configMap")
		data = configMaps[field[string](src, "name")]
		if data == nil {
			t.Fatalf("volume %s: the chart renders no ConfigMap %s", field[string](vol, "name"), field[string](src, "name"))
		}
	case vol["secret"] != nil:
		src = field[map[string]any](vol, "secret")
		data = secrets[field[string](src, "secretName")]
		if data == nil {
			t.Fatalf("volume %s: the test has no Secret %s", field[string](vol, "name"), field[string](src, "secretName"))
		}
	case vol["emptyDir"] != nil:
		return nil, 0o644
	default:
		t.Fatalf("volume %v: only configMap, secret and emptyDir volumes are laid out", vol)
	}
	mode := os.FileMode(0o644)
	if m, ok := src["defaultMode"].(float64); ok {
		mode = os.FileMode(int(m))
	}
	items := field[[]any](src, "items")
	if len(items) == 0 {
		return data, mode
	}
	out := map[string][]byte{}
	for _, it := range items {
		key := field[string](it, "key")
		v, ok := data[key]
		if !ok {
			t.Fatalf("volume %s: item %s is not in its source", field[string](vol, "name"), key)
		}
		out[field[string](it, "path")] = v
	}
	return out, mode
}

// env resolves a container's env list: plain values, and secretKeyRef from the given Secrets.
func containerEnv(t testing.TB, ctr map[string]any, secrets map[string]map[string][]byte) []string {
	t.Helper()
	var env []string
	for _, e := range field[[]any](ctr, "env") {
		name := field[string](e, "name")
		switch {
		case field[map[string]any](e, "valueFrom", "secretKeyRef") != nil:
			ref := field[map[string]any](e, "valueFrom", "secretKeyRef")
			v, ok := secrets[field[string](ref, "name")][field[string](ref, "key")]
			if !ok {
				t.Fatalf("env %s: the test has no Secret %s key %s", name, field[string](ref, "name"), field[string](ref, "key"))
			}
			env = append(env, name+"="+string(v))
		case field[map[string]any](e, "valueFrom") != nil:
			t.Fatalf("env %s: valueFrom %v is not resolved by the sandbox", name, e)
		default:
			env = append(env, name+"="+fmt.Sprint(field[any](e, "value")))
		}
	}
	return env
}

// command turns a container command into one that runs inside the sandbox with exactly env.
func (sb *podSandbox) command(env []string, argv ...string) (string, []string) {
	args := []string{"--target", fmt.Sprint(sb.holder.cmd.Process.Pid), "--mount", "--net", "--", "chroot", sb.root,
		"/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	args = append(args, env...)
	return "nsenter", append(args, argv...)
}

// inNet turns a server command into one that runs in the sandbox's network namespace only (the host's
// files, the sandbox's loopback), as cred when given; a nil sandbox returns the command unchanged.
func (sb *podSandbox) inNet(cred *syscall.Credential, bin string, args ...string) (string, []string) {
	if sb == nil {
		return bin, args
	}
	ns := []string{"--target", fmt.Sprint(sb.holder.cmd.Process.Pid), "--net"}
	if cred != nil {
		ns = append(ns, "--setgid", fmt.Sprint(cred.Gid), "--setuid", fmt.Sprint(cred.Uid))
	}
	return "nsenter", append(append(ns, "--", bin), args...)
}

// start runs a long-lived process of the pod (stopped, like every server here, by its process group).
func (sb *podSandbox) start(t *testing.T, name string, env []string, argv ...string) *server {
	t.Helper()
	bin, args := sb.command(env, argv...)
	return startServer(t, name, nil, syscall.SIGTERM, filepath.Join(sb.root, "."+strings.ReplaceAll(name, " ", "-")+".log"), nil, bin, args...)
}

// run runs a short command in the sandbox and returns its combined output and exit code.
func (sb *podSandbox) run(t testing.TB, timeout time.Duration, env []string, argv ...string) (string, int) {
	t.Helper()
	bin, args := sb.command(env, argv...)
	out, err := runCommand(t, timeout, nil, nil, bin, args...)
	if err == nil {
		return out, 0
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out, exit.ExitCode()
	}
	t.Fatalf("%v: %v\n%s", argv, err, out)
	return out, -1
}

// probe runs a container's exec probe (readinessProbe or livenessProbe) the way the kubelet does: its
// command in the container's environment, success being exit code 0.
func (sb *podSandbox) probe(t testing.TB, ctr map[string]any, which string, env []string) (string, int) {
	t.Helper()
	argv := asStrings(field[[]any](ctr, which, "exec", "command"))
	if len(argv) == 0 {
		t.Fatalf("container %s has no exec %s", field[string](ctr, "name"), which)
	}
	timeout := time.Duration(max(field[float64](ctr, which, "timeoutSeconds"), 1)) * time.Second
	return sb.run(t, timeout+5*time.Second, env, argv...)
}

// waitForTCP waits until something in the sandbox accepts TCP connections on 127.0.0.1:port.
func (sb *podSandbox) waitForTCP(t testing.TB, s *server, port int) {
	t.Helper()
	waitFor(t, s, 20*time.Second, fmt.Sprintf("%s on port %d in the sandbox", s.name, port), func() error {
		if out, code := sb.run(t, 5*time.Second, nil, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d", port)); code != 0 {
			return fmt.Errorf("exit %d: %s", code, out)
		}
		return nil
	})
}

// sortedKeys lists a map's keys in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
