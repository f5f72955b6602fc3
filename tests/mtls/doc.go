// Package mtls holds the real mTLS end-to-end tests: PostgreSQL 15 and 17, Redis 7 and an nginx SNI router
// standing in for the Envoy TLS-passthrough gateway, reached with the connection settings that
// assets/nautobot_config.py produces. It is a separate module so that pgx and go-redis stay out of the
// Pulumi program's dependency graph. Run with `make test-mtls`; see MATRIX.md for what is asserted.
package mtls
