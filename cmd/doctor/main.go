// Command doctor reads the live state of the global cluster, a site cluster, or the network path from a
// site to the global PostgreSQL and Redis, and prints one line per check (PASS, WARN or FAIL, with the seed's
// fix under each failure).
//
//	go run ./cmd/doctor global  --kubeconfig FILE [--context C] [--outputs FILE|-] [--namespace NS] [--json]
//	go run ./cmd/doctor site    --kubeconfig FILE [--context C] [--outputs FILE|-] [--identity CN] [--global-kubeconfig FILE] [--json]
//	go run ./cmd/doctor connect --db-host H --redis-host H --cert-dir DIR [--site NAME] [--login] [--db-sslmode verify-ca]
//	                            [--redis-check-hostname=false] [--json]
//
// Exit code: 0 every check passed, 1 a check failed, 3 no failure but a check could not pass (WARN),
// 2 usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"nautobot-worker/internal/doctor"
	"nautobot-worker/internal/nautobotpod"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = "usage: doctor global|site|connect [flags] (doctor <command> -h lists them)"

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	command := args[0]
	flags := flag.NewFlagSet("doctor "+command, flag.ContinueOnError)
	flags.SetOutput(stderr)
	asJSON := flags.Bool("json", false, "print the report as JSON")
	timeout := flags.Duration("timeout", 2*time.Minute, "the whole command gives up after this long")
	var kubeconfig, kubeContext, outputs, namespace *string
	if command == "global" || command == "site" {
		kubeconfig = flags.String("kubeconfig", "", "kubeconfig of the cluster (default $KUBECONFIG)")
		kubeContext = flags.String("context", "", "kubeconfig context (default the current one)")
		outputs = flags.String("outputs", "", "the stack's outputs: a file with `pulumi stack output --json`, or - for standard input")
		namespace = flags.String("namespace", "", "namespace of the stack's objects (default the outputs' namespace, else nautobot)")
	}
	site := struct {
		secret, deployment, identity    *string
		globalKubeconfig, globalContext *string
		renewBefore                     *time.Duration
		logLines                        *int64
	}{}
	connect := doctor.ConnectOptions{}
	var login, redisCheckHostname *bool
	var connectSite *string
	switch command {
	case "global":
	case "site":
		site.secret = flags.String("secret", "", "the mTLS secret (default the outputs' secrets.mtlsClient, else nautobot-mtls-client)")
		site.deployment = flags.String("deployment", "", "the worker Deployment (default the outputs' workerDeployment)")
		site.identity = flags.String("identity", "", "the common name the site's client certificate must carry (default site-<the outputs' site>)")
		site.globalKubeconfig = flags.String("global-kubeconfig", "", "kubeconfig of the global cluster: compare the site's certificate with the one issued there (the outputs' clientCertSource)")
		site.globalContext = flags.String("global-context", "", "context of --global-kubeconfig")
		site.renewBefore = flags.Duration("renew-before", 720*time.Hour, "the client certificates' renewal window (certificates.clientRenewBefore)")
		site.logLines = flags.Int64("log-lines", 500, "lines of each worker container's log to read")
	case "connect":
		flags.StringVar(&connect.DBHost, "db-host", "", "the global PostgreSQL's SNI name (the global stack's dbFqdn)")
		flags.IntVar(&connect.DBPort, "db-port", 5432, "PostgreSQL port of the gateway")
		flags.StringVar(&connect.RedisHost, "redis-host", "", "the global Redis's SNI name (redisFqdn)")
		flags.IntVar(&connect.RedisPort, "redis-port", 6379, "Redis port of the gateway")
		flags.StringVar(&connect.DBAddress, "db-address", "", "dial this host[:port] instead of what --db-host resolves to (the gateway VIP before DNS names it); --db-host stays the SNI name")
		flags.StringVar(&connect.RedisAddress, "redis-address", "", "as --db-address, for Redis")
		flags.DurationVar(&connect.Timeout, "connect-timeout", 5*time.Second, "each connection attempt gives up after this long (a firewall that drops packets)")
		flags.StringVar(&connect.CertDir, "cert-dir", "/etc/nautobot/mtls", "directory with tls.crt, tls.key and ca.crt")
		flags.StringVar(&connect.DBUser, "db-user", "app", "with --login: the database user (the global stack's dbUser output)")
		connectSite = flags.String("site", "", "the site whose certificate --cert-dir holds: its CN must be the site's identity, site-<name>")
		flags.StringVar(&connect.DBName, "db-name", "app", "with --login: the database")
		flags.StringVar(&connect.ServerNames.DatabaseSSLMode, "db-sslmode", nautobotpod.VerifyFull, "the site's worker.databaseSslMode: verify-full checks that the PostgreSQL certificate names --db-host, verify-ca (set explicitly on the site) the chain only")
		redisCheckHostname = flags.Bool("redis-check-hostname", true, "the site's worker.redisCheckHostname: false checks only the chain of the Redis certificate")
		login = flags.Bool("login", false, "also log in to PostgreSQL with the client certificate (a password from $NAUTOBOT_DB_PASSWORD is sent if the server asks for one), and to Redis when $NAUTOBOT_REDIS_PASSWORD is set")
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if err := flags.Parse(args[1:]); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "doctor: unexpected argument %q\n", flags.Arg(0))
		return 2
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	now := time.Now()
	var report doctor.Report
	switch command {
	case "global", "site":
		out, err := doctor.ReadOutputs(*outputs)
		if err != nil {
			fmt.Fprintf(stderr, "doctor: --outputs: %v\n", err)
			return 2
		}
		cluster, err := doctor.ConnectCluster(*kubeconfig, *kubeContext)
		if err != nil {
			fmt.Fprintf(stderr, "doctor: %v\n", err)
			return 2
		}
		if command == "global" {
			report = doctor.Global(ctx, cluster, doctor.GlobalOptions{Outputs: out, Namespace: *namespace, Now: now})
		} else {
			var global *doctor.Cluster
			if *site.globalKubeconfig != "" {
				if global, err = doctor.ConnectCluster(*site.globalKubeconfig, *site.globalContext); err != nil {
					fmt.Fprintf(stderr, "doctor: --global-kubeconfig: %v\n", err)
					return 2
				}
			}
			report = doctor.Site(ctx, cluster, doctor.SiteOptions{Outputs: out, Namespace: *namespace, MTLSSecret: *site.secret, Global: global,
				Deployment: *site.deployment, Identity: *site.identity, RenewBefore: *site.renewBefore, LogLines: *site.logLines, Now: now})
		}
	case "connect":
		var missing []string
		if connect.DBHost == "" {
			missing = append(missing, "--db-host")
		}
		if connect.RedisHost == "" {
			missing = append(missing, "--redis-host")
		}
		if len(missing) > 0 {
			fmt.Fprintf(stderr, "doctor connect: %s required\n", strings.Join(missing, " and "))
			return 2
		}
		if *connectSite != "" {
			connect.Identity = nautobotpod.SiteIdentity(*connectSite)
		}
		if m := connect.ServerNames.DatabaseSSLMode; m != nautobotpod.VerifyFull && m != nautobotpod.VerifyCA {
			fmt.Fprintf(stderr, "doctor connect: --db-sslmode %q: use %s or %s (the modes a worker may use)\n", m, nautobotpod.VerifyFull, nautobotpod.VerifyCA)
			return 2
		}
		connect.ServerNames.RedisCheckHostname = redisCheckHostname
		if *login {
			connect.Login = true
			connect.DBPassword = os.Getenv("NAUTOBOT_DB_PASSWORD")
			connect.RedisPassword = os.Getenv("NAUTOBOT_REDIS_PASSWORD")
		}
		connect.Now = now
		report = doctor.Connect(ctx, connect)
	}
	write := report.WriteText
	if *asJSON {
		write = report.WriteJSON
	}
	if err := write(stdout); err != nil {
		fmt.Fprintf(stderr, "doctor: %v\n", err)
		return 2
	}
	return report.ExitCode()
}
