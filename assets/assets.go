// Package assets holds files the stacks ship verbatim.
package assets

import _ "embed"

// NautobotConfig is nautobot_config.py, the Nautobot configuration the site and global stacks pass as the
// Helm value nautobot.config by default. On top of Nautobot's defaults it configures PostgreSQL mTLS
// (NAUTOBOT_DB_SSLMODE, NAUTOBOT_DB_SSLNEGOTIATION, NAUTOBOT_DB_SSLCERT/SSLKEY/SSLROOTCERT), Redis mTLS when
// the CA at NAUTOBOT_REDIS_SSL_CA_CERTS (default /etc/nautobot/mtls/ca.crt) exists, and the
// UNDERSTACK_PARTITION and UNDERSTACK_SITE settings; misconfigurations fail at start-up with an error naming
// the variable. Tested by assets/tests (make test-config) and, against real servers, by tests/mtls.
//
//go:embed nautobot_config.py
var NautobotConfig string
