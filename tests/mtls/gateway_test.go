package mtls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"golang.org/x/sys/unix"
)

// wantRoute is where the gateway must send a name the stack declares: the Service whose server certificate
// carries the name (any other server fails the workers' verify-full), on the listener port the stack gives
// the sites.
type wantRoute struct {
	service serviceRef
	port    int
}

// stackRoutes are the gateway FQDNs the stack declares and where each must lead: to the Service of the test
// server whose certificate (the stack's own, as issued) is valid for the name.
func stackRoutes(t testing.TB, p *stackPKI) map[string]wantRoute {
	t.Helper()
	servers := map[serviceRef]secretFiles{p.postgresService(): p.postgresServer, p.redisService(t): p.redisServer}
	out := map[string]wantRoute{}
	for fqdn, port := range map[string]int{p.dbFQDN: p.dbPort, p.redisFQDN: p.redisPort} {
		var carriers []serviceRef
		for svc, files := range servers {
			crt, err := pki.DecodeX509CertificateBytes(files.crt)
			if err != nil {
				t.Fatal(err)
			}
			if crt.VerifyHostname(fqdn) == nil {
				carriers = append(carriers, svc)
			}
		}
		if len(carriers) != 1 {
			t.Fatalf("%s is carried by the server certificates of %v; want exactly one backend", fqdn, carriers)
		}
		out[fqdn] = wantRoute{carriers[0], port}
	}
	return out
}

// stackKeepalive is the keepalive the stack's gateway config asks of every listener (nil: switched off).
func stackKeepalive(t testing.TB, p *stackPKI) *tcpKeepalive {
	t.Helper()
	k := p.gateway.config.Keepalive
	if !*k.Enabled {
		return nil
	}
	seconds := func(key, s string) int {
		d, err := time.ParseDuration(s)
		if err != nil || d%time.Second != 0 {
			t.Fatalf("gateway.keepalive.%s %q is not whole seconds, the unit of the socket options", key, s)
		}
		return int(d / time.Second)
	}
	return &tcpKeepalive{idle: seconds("idleTime", k.IdleTime), interval: seconds("interval", k.Interval), probes: k.Probes}
}

// gatewayProblems compares a translation with what the stack requires: every declared FQDN on its port and
// to its Service, no other name routed, and the keepalive on every listener.
func gatewayProblems(tr *gatewayTranslation, want map[string]wantRoute, keepalive *tcpKeepalive) []string {
	var problems []string
	for _, fqdn := range sortedKeys(want) {
		w := want[fqdn]
		l, got, ok := tr.route(fqdn)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s reaches no backend; want %s", fqdn, w.service))
		case got != w.service:
			problems = append(problems, fmt.Sprintf("%s reaches %s; want %s, whose server certificate carries the name", fqdn, got, w.service))
		case l.port != w.port:
			problems = append(problems, fmt.Sprintf("%s is routed on port %d; the stack tells the sites %d", fqdn, l.port, w.port))
		}
	}
	for _, l := range tr.listeners {
		for _, name := range sortedKeys(l.routes) {
			if _, ok := want[name]; !ok {
				problems = append(problems, fmt.Sprintf("listener %s routes %s, which the stack does not declare", l.name, name))
			}
		}
		switch {
		case keepalive != nil && l.keepalive == nil:
			problems = append(problems, fmt.Sprintf("listener %s sets no TCP keepalive; the stack asks %s", l.name, keepalive))
		case keepalive != nil && *l.keepalive != *keepalive:
			problems = append(problems, fmt.Sprintf("listener %s keepalive %s; the stack asks %s", l.name, l.keepalive, keepalive))
		case keepalive == nil && l.keepalive != nil:
			problems = append(problems, fmt.Sprintf("listener %s keepalive %s; the stack switched it off", l.name, l.keepalive))
		}
	}
	return problems
}

// routeTo points the TLSRoute of fqdn at another Service.
func routeTo(objs []k8sObject, fqdn string, to serviceRef) {
	for _, o := range objs {
		if o["kind"] != "TLSRoute" || !slices.Contains(field[[]any](o, "spec", "hostnames"), any(fqdn)) {
			continue
		}
		for _, rule := range field[[]any](o, "spec", "rules") {
			for _, ref := range field[[]any](rule, "backendRefs") {
				r := ref.(map[string]any)
				r["name"], r["port"] = to.name, to.port
				if to.namespace != objectNamespace(o, "default") {
					r["namespace"] = to.namespace
				}
			}
		}
	}
}

// policyOn retargets the keepalive policy of listener from to the section to.
func policyOn(objs []k8sObject, from, to string) {
	for _, o := range objs {
		if o["kind"] != "ClientTrafficPolicy" {
			continue
		}
		for _, ref := range field[[]any](o, "spec", "targetRefs") {
			if r := ref.(map[string]any); r["sectionName"] == from {
				r["sectionName"] = to
			}
		}
	}
}

// routeName is the name of the route (the listener) of fqdn in the stack's gateway objects.
func routeName(t testing.TB, p *stackPKI, fqdn string) string {
	t.Helper()
	for _, o := range p.gateway.objects {
		if o["kind"] == "TLSRoute" && slices.Contains(field[[]any](o, "spec", "hostnames"), any(fqdn)) {
			return field[string](o, "metadata", "name")
		}
	}
	t.Fatalf("the stack registers no TLSRoute for %s", fqdn)
	return ""
}

// TestTheSNIRouterRoutesWhatEnvoyGatewayTranslates checks Envoy Gateway's translation of the stack's gateway
// objects against what the stack requires (each FQDN to the server whose certificate carries it, nothing
// else, the keepalive on every listener), with the mistakes that check must catch made in the objects; then
// the router built from the translation: where each name reaches, that it refuses the rest, that it sets
// the translated keepalive, and a worker's client through a router built from a wrong route.
func TestTheSNIRouterRoutesWhatEnvoyGatewayTranslates(t *testing.T) {
	p := getPKI(t)
	want := stackRoutes(t, p)
	keepalive := stackKeepalive(t, p)
	dbRoute := routeName(t, p, dbFQDN)
	redis := p.redisService(t)

	for _, c := range []struct {
		variant gatewayVariant
		want    []string
	}{
		{variant: stackObjects},
		{variant: dbRouteToRedis, want: []string{dbFQDN + " reaches " + redis.String() + "; want " + p.postgresService().String()}},
		{variant: dbRouteToMissingService, want: []string{dbFQDN + " reaches no backend"}},
		{variant: dbKeepaliveOnMissingListener, want: []string{"/" + dbRoute + " sets no TCP keepalive; the stack asks " + keepalive.String()}},
	} {
		t.Run("translation of "+variants[c.variant].describe, func(t *testing.T) {
			got := gatewayProblems(translation(t, c.variant), want, keepalive)
			if len(got) != len(c.want) {
				t.Fatalf("problems:\n%s\nwant %d: %q", strings.Join(got, "\n"), len(c.want), c.want)
			}
			for i := range got {
				if !strings.Contains(got[i], c.want[i]) {
					t.Errorf("problem %q, want …%s…", got[i], c.want[i])
				}
			}
		})
	}

	tr := stackTranslation(t)
	backends := map[serviceRef]*recordingBackend{}
	ports := map[serviceRef]int{}
	for _, w := range want {
		b := listenRecording(t)
		backends[w.service], ports[w.service] = b, b.port
	}
	gw := startRouterFor(t, nil, tr, ports, false)
	t.Run("every gateway FQDN reaches the backend the translation names, on its listener", func(t *testing.T) {
		for _, fqdn := range sortedKeys(want) {
			if err := sendClientHello(t, gw.portOf(t, fqdn), fqdn); err != nil {
				t.Errorf("%s through the router: %v", fqdn, err)
			}
			for svc, b := range backends {
				if got, wantHit := b.hit(), svc == want[fqdn].service; got != wantHit {
					t.Errorf("%s through the router: %s reached %v, want %v", fqdn, svc, got, wantHit)
				}
			}
		}
	})
	t.Run("a name the translation does not route reaches nothing", func(t *testing.T) {
		for _, c := range []struct{ name, listenerOf string }{
			{wrongFQDN, dbFQDN}, {wrongFQDN, redisFQDN},
			{redisFQDN, dbFQDN}, {dbFQDN, redisFQDN}, // each name only on its own listener
		} {
			if err := sendClientHello(t, gw.portOf(t, c.listenerOf), c.name); err != nil {
				t.Errorf("%s on the listener of %s: %v, want the connection closed after the ClientHello", c.name, c.listenerOf, err)
			}
			for svc, b := range backends {
				if b.hit() {
					t.Errorf("%s on the listener of %s reached %s", c.name, c.listenerOf, svc)
				}
			}
		}
	})
	t.Run("the router's listening sockets carry the translated keepalive", func(t *testing.T) {
		for _, fqdn := range sortedKeys(want) {
			l, _, _ := tr.route(fqdn)
			got, err := listeningKeepalive(gw.cmd.Process.Pid, gw.portOf(t, fqdn))
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (l.keepalive == nil) || (got != nil && *got != *l.keepalive) {
				t.Errorf("listener of %s: nginx keepalive %v, translated %v", fqdn, got, l.keepalive)
			}
		}
	})
	t.Run("through a router built from the database route pointed at Redis, the worker's client refuses Redis", func(t *testing.T) {
		rs := startRedis(t)
		r := startRouterFor(t, nil, translation(t, dbRouteToRedis), stackBackends(t, 0, rs.port), false)
		seen := len(r.accessLines(t))
		// verify-full, as the site workers connect by default.
		got := pgxResult(t, libpqDSN(dbFQDN, r.portOf(t, dbFQDN), configFor(t, setApp, "direct").DatabaseOptions,
			map[string]string{"sslmode": "verify-full"}))
		if !strings.Contains(got, "x509: certificate is valid for") || !strings.Contains(got, "not "+dbFQDN) {
			t.Errorf("pgx through the wrong route: %s; want the certificate refused for %s", got, dbFQDN)
		}
		r.expectAccess(t, seen, `127.0.0.1 sni="`+dbFQDN+`" alpn="postgresql" upstream="127.0.0.1:PORT"`)
	})
}

// recordingBackend is a loopback TCP listener that notes each connection the router forwards to it.
type recordingBackend struct {
	port int
	hits chan struct{}
}

func listenRecording(t *testing.T) *recordingBackend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	b := &recordingBackend{port: l.Addr().(*net.TCPAddr).Port, hits: make(chan struct{}, 16)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b.hits <- struct{}{}
			c.Close()
		}
	}()
	return b
}

// hit reports whether a connection arrived since the last call. It need not wait: a backend counts a
// connection before it closes it, and the router closes the client's only after that, when sendClientHello
// returns; a connection the router does not route never reaches a backend.
func (b *recordingBackend) hit() bool {
	select {
	case <-b.hits:
		return true
	default:
		return false
	}
}

// sendClientHello starts a TLS handshake with the server name through the router and returns nil when the
// connection is closed before any server answers: the recording backends close every connection, the
// router closes one it cannot route. Anything else is returned.
func sendClientHello(t *testing.T, port int, serverName string) error {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	err = tls.Client(c, &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS13}).Handshake()
	if err != nil && (errors.Is(err, io.EOF) || strings.Contains(err.Error(), "connection reset")) {
		return nil
	}
	return fmt.Errorf("the handshake did not end in a closed connection: %v", err)
}

// listeningKeepalive reads the keepalive options of the socket process pid listens on at port, from a
// duplicate of its descriptor (pidfd_getfd).
func listeningKeepalive(pid, port int) (*tcpKeepalive, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil || !strings.HasPrefix(target, "socket:") {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fd, err := unix.PidfdGetfd(pidfd, n, 0)
		if err != nil {
			return nil, fmt.Errorf("pidfd_getfd %d of %d: %w", n, pid, err)
		}
		ka, found, err := keepaliveIfListening(fd, port)
		unix.Close(fd)
		if err != nil || found {
			return ka, err
		}
	}
	return nil, fmt.Errorf("process %d has no socket listening on port %d", pid, port)
}

func keepaliveIfListening(fd, port int) (*tcpKeepalive, bool, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, false, nil
	}
	if in4, ok := sa.(*unix.SockaddrInet4); !ok || in4.Port != port {
		return nil, false, nil
	}
	if listening, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || listening != 1 {
		return nil, false, err
	}
	on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	if err != nil || on == 0 {
		return nil, true, err
	}
	var ka tcpKeepalive
	for opt, dst := range map[int]*int{unix.TCP_KEEPIDLE: &ka.idle, unix.TCP_KEEPINTVL: &ka.interval, unix.TCP_KEEPCNT: &ka.probes} {
		if *dst, err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, opt); err != nil {
			return nil, true, err
		}
	}
	return &ka, true, nil
}
