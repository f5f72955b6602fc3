"""Tests for assets/nautobot_config.py: every TLS mode, override variable and error message.

Nautobot itself cannot be installed here (no PyPI), so the config runs on top of a stand-in for
nautobot.core.settings / settings_funcs in stub/ that mirrors the shape of Nautobot's defaults (DATABASES
from NAUTOBOT_DB_*, a django-redis CACHES entry with OPTIONS, CELERY_BROKER_URL from NAUTOBOT_REDIS_*).
Each test loads the config afresh with only the environment it sets, and temporary certificate files; the
default mount /etc/nautobot/mtls is simulated by patching os.path.isfile, never created.

Run: python3 -m unittest discover -s assets/tests -v
"""

import json
import os
import ssl
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

from configloader import HERE, load_config, tls_summary

MTLS = "/etc/nautobot/mtls"
SSLMODES = "verify-ca, verify-full, require, prefer, allow, disable"
REDISS = {"NAUTOBOT_REDIS_SSL": "true"}


class ConfigTestCase(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def cert(self, name):
        """A file that exists (the config checks existence only; real PEM is exercised by tests/mtls)."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
        return path

    def missing(self, name):
        return os.path.join(self.dir, "absent", name)

    def load(self, env, prepare=None, existing_files=()):
        """Load the config with exactly `env` as the environment; `existing_files` also pass os.path.isfile."""
        real_isfile = os.path.isfile
        fake = set(existing_files)
        with mock.patch.dict(os.environ, env, clear=True), mock.patch(
            "os.path.isfile", side_effect=lambda p: p in fake or real_isfile(p)
        ):
            return load_config(prepare)

    def assertRaisesExactly(self, exc_type, message, env, **kwargs):
        with self.assertRaises(exc_type) as ctx:
            self.load(env, **kwargs)
        self.assertIs(type(ctx.exception), exc_type)
        self.assertEqual(str(ctx.exception), message)

    def db_files(self):
        return {
            "NAUTOBOT_DB_SSLCERT": self.cert("tls.crt"),
            "NAUTOBOT_DB_SSLKEY": self.cert("tls.key"),
            "NAUTOBOT_DB_SSLROOTCERT": self.cert("ca.crt"),
        }

    def redis_files(self):
        return {
            "NAUTOBOT_REDIS_SSL_CA_CERTS": self.cert("ca.crt"),
            "NAUTOBOT_REDIS_SSL_CERTFILE": self.cert("tls.crt"),
            "NAUTOBOT_REDIS_SSL_KEYFILE": self.cert("tls.key"),
        }


class DatabaseSSLModeTests(ConfigTestCase):
    def test_unset_empty_or_blank_adds_nothing(self):
        for env in ({}, {"NAUTOBOT_DB_SSLMODE": ""}, {"NAUTOBOT_DB_SSLMODE": "  "}):
            with self.subTest(env=env):
                config = self.load(env)
                self.assertNotIn("OPTIONS", config.DATABASES["default"])

    def test_verify_modes_set_full_mtls_options_from_overrides(self):
        files = self.db_files()
        for mode in ("verify-ca", "verify-full"):
            with self.subTest(mode=mode):
                config = self.load({"NAUTOBOT_DB_SSLMODE": mode, **files})
                self.assertEqual(
                    config.DATABASES["default"]["OPTIONS"],
                    {
                        "sslmode": mode,
                        "sslcert": files["NAUTOBOT_DB_SSLCERT"],
                        "sslkey": files["NAUTOBOT_DB_SSLKEY"],
                        "sslrootcert": files["NAUTOBOT_DB_SSLROOTCERT"],
                    },
                )

    def test_verify_ca_defaults_to_the_mtls_mount(self):
        defaults = [f"{MTLS}/tls.crt", f"{MTLS}/tls.key", f"{MTLS}/ca.crt"]
        # The mounted Secret's ca.crt also switches Redis TLS on, which needs a rediss:// URL.
        config = self.load({"NAUTOBOT_DB_SSLMODE": "verify-ca", **REDISS}, existing_files=defaults)
        self.assertEqual(
            config.DATABASES["default"]["OPTIONS"],
            {"sslmode": "verify-ca", "sslcert": defaults[0], "sslkey": defaults[1], "sslrootcert": defaults[2]},
        )
        self.assertEqual(config.CELERY_BROKER_USE_SSL["ssl_ca_certs"], defaults[2])

    def test_mounted_secret_with_plain_redis_fails_at_start(self):
        # Without the check, redis-py would raise "unexpected keyword argument 'ssl_cert_reqs'" at first use.
        defaults = [f"{MTLS}/tls.crt", f"{MTLS}/tls.key", f"{MTLS}/ca.crt"]
        with self.assertRaises(ValueError) as ctx:
            self.load({"NAUTOBOT_DB_SSLMODE": "verify-ca"}, existing_files=defaults)
        self.assertIn("set NAUTOBOT_REDIS_SSL=true", str(ctx.exception))

    def test_surrounding_whitespace_is_ignored(self):
        files = {k: f"{v}\n" for k, v in self.db_files().items()}
        config = self.load({"NAUTOBOT_DB_SSLMODE": " verify-ca\n", **files})
        self.assertEqual(config.DATABASES["default"]["OPTIONS"]["sslmode"], "verify-ca")
        self.assertEqual(config.DATABASES["default"]["OPTIONS"]["sslcert"], files["NAUTOBOT_DB_SSLCERT"].strip())

    def test_missing_default_certificate_names_variable_and_path(self):
        self.assertRaisesExactly(
            FileNotFoundError,
            "SSL certificate file required by NAUTOBOT_DB_SSLCERT not found: /etc/nautobot/mtls/tls.crt",
            {"NAUTOBOT_DB_SSLMODE": "verify-ca"},
        )

    def test_each_missing_file_is_reported_in_order(self):
        for variable in ("NAUTOBOT_DB_SSLCERT", "NAUTOBOT_DB_SSLKEY", "NAUTOBOT_DB_SSLROOTCERT"):
            with self.subTest(variable=variable):
                env = {"NAUTOBOT_DB_SSLMODE": "verify-full", **self.db_files()}
                env[variable] = self.missing("gone.pem")
                self.assertRaisesExactly(
                    FileNotFoundError,
                    f"SSL certificate file required by {variable} not found: {env[variable]}",
                    env,
                )

    def test_a_directory_is_not_a_certificate_file(self):
        env = {"NAUTOBOT_DB_SSLMODE": "verify-ca", **self.db_files(), "NAUTOBOT_DB_SSLKEY": self.dir}
        self.assertRaisesExactly(
            FileNotFoundError, f"SSL certificate file required by NAUTOBOT_DB_SSLKEY not found: {self.dir}", env
        )

    def test_require_sets_sslmode_only_and_needs_no_files(self):
        env = {"NAUTOBOT_DB_SSLMODE": "require", "NAUTOBOT_DB_SSLCERT": self.missing("tls.crt")}
        self.assertEqual(self.load(env).DATABASES["default"]["OPTIONS"], {"sslmode": "require"})

    def test_weaker_libpq_modes_pass_through_as_sslmode_only(self):
        for mode in ("prefer", "allow", "disable"):
            with self.subTest(mode=mode):
                config = self.load({"NAUTOBOT_DB_SSLMODE": mode})
                self.assertEqual(config.DATABASES["default"]["OPTIONS"], {"sslmode": mode})

    def test_typos_fail_instead_of_disabling_tls(self):
        for value in ("verify_ca", "VERIFY-CA", "verify-cA", "true", "on", "required"):
            with self.subTest(value=value):
                self.assertRaisesExactly(
                    ValueError,
                    f"NAUTOBOT_DB_SSLMODE={value!r} is not valid; allowed values: {SSLMODES} (or unset)",
                    {"NAUTOBOT_DB_SSLMODE": value, **self.db_files()},
                )

    def test_existing_options_are_kept(self):
        def prepare(settings):
            settings.DATABASES["default"]["OPTIONS"] = {"connect_timeout": 5, "sslmode": "disable"}

        files = self.db_files()
        config = self.load({"NAUTOBOT_DB_SSLMODE": "verify-ca", **files}, prepare=prepare)
        self.assertEqual(
            config.DATABASES["default"]["OPTIONS"],
            {
                "connect_timeout": 5,
                "sslmode": "verify-ca",
                "sslcert": files["NAUTOBOT_DB_SSLCERT"],
                "sslkey": files["NAUTOBOT_DB_SSLKEY"],
                "sslrootcert": files["NAUTOBOT_DB_SSLROOTCERT"],
            },
        )

    def test_nautobot_mysql_options_survive_when_tls_is_off(self):
        config = self.load({"NAUTOBOT_DB_ENGINE": "django.db.backends.mysql"})
        self.assertEqual(config.DATABASES["default"]["OPTIONS"], {"charset": "utf8mb4"})

    def test_other_database_settings_come_from_nautobot_defaults(self):
        config = self.load({"NAUTOBOT_DB_HOST": "nautobot-db.e2e.example.com", "NAUTOBOT_DB_USER": "app"})
        self.assertEqual(config.DATABASES["default"]["HOST"], "nautobot-db.e2e.example.com")
        self.assertEqual(config.DATABASES["default"]["USER"], "app")


class DatabaseSSLNegotiationTests(ConfigTestCase):
    def test_direct_with_verify_modes(self):
        files = self.db_files()
        for mode in ("verify-ca", "verify-full"):
            with self.subTest(mode=mode):
                env = {"NAUTOBOT_DB_SSLMODE": mode, "NAUTOBOT_DB_SSLNEGOTIATION": "direct", **files}
                options = self.load(env).DATABASES["default"]["OPTIONS"]
                self.assertEqual(options["sslnegotiation"], "direct")
                self.assertEqual(options["sslmode"], mode)
                self.assertEqual(options["sslcert"], files["NAUTOBOT_DB_SSLCERT"])

    def test_direct_with_require(self):
        env = {"NAUTOBOT_DB_SSLMODE": "require", "NAUTOBOT_DB_SSLNEGOTIATION": "direct"}
        self.assertEqual(
            self.load(env).DATABASES["default"]["OPTIONS"], {"sslmode": "require", "sslnegotiation": "direct"}
        )

    def test_direct_refused_without_mandatory_tls(self):
        cases = {
            None: "unset",
            "": "unset",
            "prefer": "'prefer'",
            "allow": "'allow'",
            "disable": "'disable'",
        }
        for mode, shown in cases.items():
            with self.subTest(mode=mode):
                env = {"NAUTOBOT_DB_SSLNEGOTIATION": "direct"}
                if mode is not None:
                    env["NAUTOBOT_DB_SSLMODE"] = mode
                self.assertRaisesExactly(
                    ValueError,
                    "NAUTOBOT_DB_SSLNEGOTIATION=direct needs NAUTOBOT_DB_SSLMODE set to one of "
                    f"require, verify-ca, verify-full; it is {shown}",
                    env,
                )

    def test_postgres_or_empty_adds_nothing(self):
        files = self.db_files()
        for value in ("postgres", "", " "):
            with self.subTest(value=value):
                env = {"NAUTOBOT_DB_SSLMODE": "verify-ca", "NAUTOBOT_DB_SSLNEGOTIATION": value, **files}
                self.assertNotIn("sslnegotiation", self.load(env).DATABASES["default"]["OPTIONS"])
                self.assertNotIn("OPTIONS", self.load({"NAUTOBOT_DB_SSLNEGOTIATION": value}).DATABASES["default"])

    def test_invalid_values_fail(self):
        for value in ("Direct", "true", "tls"):
            with self.subTest(value=value):
                self.assertRaisesExactly(
                    ValueError,
                    f"NAUTOBOT_DB_SSLNEGOTIATION={value!r} is not valid; allowed values: direct, postgres (or unset)",
                    {"NAUTOBOT_DB_SSLMODE": "require", "NAUTOBOT_DB_SSLNEGOTIATION": value},
                )


class RedisSSLTests(ConfigTestCase):
    def expected(self, files, cert_reqs=ssl.CERT_REQUIRED):
        return {
            "ssl_cert_reqs": cert_reqs,
            "ssl_check_hostname": True,
            "ssl_ca_certs": files["NAUTOBOT_REDIS_SSL_CA_CERTS"],
            "ssl_certfile": files["NAUTOBOT_REDIS_SSL_CERTFILE"],
            "ssl_keyfile": files["NAUTOBOT_REDIS_SSL_KEYFILE"],
        }

    def test_off_when_the_default_ca_is_not_mounted(self):
        config = self.load(REDISS)
        self.assertNotIn("CONNECTION_POOL_KWARGS", config.CACHES["default"]["OPTIONS"])
        self.assertFalse(hasattr(config, "CELERY_BROKER_USE_SSL"))
        self.assertFalse(hasattr(config, "CELERY_REDIS_BACKEND_USE_SSL"))

    def test_cache_broker_and_result_backend_get_client_certificates(self):
        files = self.redis_files()
        config = self.load({**REDISS, **files})
        expected = self.expected(files)
        self.assertEqual(config.CACHES["default"]["OPTIONS"]["CONNECTION_POOL_KWARGS"], expected)
        self.assertEqual(config.CELERY_BROKER_USE_SSL, expected)
        self.assertEqual(config.CELERY_REDIS_BACKEND_USE_SSL, expected)
        self.assertIs(config.CELERY_BROKER_USE_SSL["ssl_cert_reqs"], ssl.CERT_REQUIRED)
        self.assertEqual(config.CACHES["default"]["LOCATION"], "rediss://localhost:6379/1")
        # Separate dicts: a library mutating one must not change the others.
        self.assertIsNot(config.CELERY_BROKER_USE_SSL, config.CELERY_REDIS_BACKEND_USE_SSL)
        self.assertIsNot(config.CELERY_BROKER_USE_SSL, config.CACHES["default"]["OPTIONS"]["CONNECTION_POOL_KWARGS"])

    def test_auto_detected_from_the_default_mount(self):
        defaults = [f"{MTLS}/ca.crt", f"{MTLS}/tls.crt", f"{MTLS}/tls.key"]
        config = self.load(REDISS, existing_files=defaults)
        self.assertEqual(
            config.CELERY_BROKER_USE_SSL,
            {
                "ssl_cert_reqs": ssl.CERT_REQUIRED,
                "ssl_check_hostname": True,
                "ssl_ca_certs": defaults[0],
                "ssl_certfile": defaults[1],
                "ssl_keyfile": defaults[2],
            },
        )

    def test_cert_reqs_is_honoured(self):
        files = self.redis_files()
        cases = {
            "required": ssl.CERT_REQUIRED,
            "optional": ssl.CERT_OPTIONAL,
            "none": ssl.CERT_NONE,
            "": ssl.CERT_REQUIRED,
            " none\n": ssl.CERT_NONE,
        }
        for value, constant in cases.items():
            with self.subTest(value=value):
                env = {**REDISS, **files, "NAUTOBOT_REDIS_SSL_CERT_REQS": value}
                if constant is ssl.CERT_NONE:
                    env["NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME"] = "false"
                config = self.load(env)
                for kwargs in (
                    config.CACHES["default"]["OPTIONS"]["CONNECTION_POOL_KWARGS"],
                    config.CELERY_BROKER_USE_SSL,
                    config.CELERY_REDIS_BACKEND_USE_SSL,
                ):
                    self.assertIs(kwargs["ssl_cert_reqs"], constant)

    def test_invalid_cert_reqs_fails(self):
        for value in ("CERT_REQUIRED", "Required", "yes"):
            with self.subTest(value=value):
                self.assertRaisesExactly(
                    ValueError,
                    f"NAUTOBOT_REDIS_SSL_CERT_REQS={value!r} is not valid; "
                    "allowed values: required, optional, none (or unset)",
                    {**REDISS, **self.redis_files(), "NAUTOBOT_REDIS_SSL_CERT_REQS": value},
                )

    def redis_kwargs(self, config):
        return (
            config.CACHES["default"]["OPTIONS"]["CONNECTION_POOL_KWARGS"],
            config.CELERY_BROKER_USE_SSL,
            config.CELERY_REDIS_BACKEND_USE_SSL,
        )

    def test_hostname_is_checked_unless_switched_off_by_name(self):
        files = self.redis_files()
        cases = {None: True, "": True, "true": True, " true\n": True, "false": False, "false\n": False}
        for value, checked in cases.items():
            with self.subTest(value=value):
                env = {**REDISS, **files}
                if value is not None:
                    env["NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME"] = value
                for kwargs in self.redis_kwargs(self.load(env)):
                    self.assertIs(kwargs["ssl_check_hostname"], checked)

    def test_invalid_check_hostname_fails(self):
        for value in ("False", "0", "no", "off"):
            with self.subTest(value=value):
                self.assertRaisesExactly(
                    ValueError,
                    f"NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME={value!r} is not valid; allowed values: true, false (or unset)",
                    {**REDISS, **self.redis_files(), "NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME": value},
                )

    def test_cert_reqs_none_needs_the_hostname_check_off_by_name(self):
        # Python's ssl raises "Cannot set verify_mode to CERT_NONE when check_hostname is enabled" only at
        # the first connection; the config says it at start-up, with the variables to change.
        for check in (None, "true"):
            with self.subTest(check=check):
                env = {**REDISS, **self.redis_files(), "NAUTOBOT_REDIS_SSL_CERT_REQS": "none"}
                if check is not None:
                    env["NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME"] = check
                self.assertRaisesExactly(
                    ValueError,
                    "NAUTOBOT_REDIS_SSL_CERT_REQS=none does not verify the server, so its name cannot be checked "
                    "either; set NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME=false as well, or NAUTOBOT_REDIS_SSL_CERT_REQS=required",
                    env,
                )

    def test_the_settings_build_a_context_python_accepts(self):
        # What redis-py's SSLConnection does with the kwargs, in its order: check_hostname, then verify_mode.
        files = self.redis_files()
        for env in ({}, {"NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME": "false", "NAUTOBOT_REDIS_SSL_CERT_REQS": "none"},
                    {"NAUTOBOT_REDIS_SSL_CERT_REQS": "optional"}):
            with self.subTest(env=env):
                kwargs = self.load({**REDISS, **files, **env}).CELERY_BROKER_USE_SSL
                context = ssl.create_default_context()
                context.check_hostname = kwargs["ssl_check_hostname"]
                context.verify_mode = kwargs["ssl_cert_reqs"]
                self.assertEqual(context.check_hostname, kwargs["ssl_check_hostname"])

    def test_missing_client_certificate_or_key_with_a_ca(self):
        for variable in ("NAUTOBOT_REDIS_SSL_CERTFILE", "NAUTOBOT_REDIS_SSL_KEYFILE"):
            with self.subTest(variable=variable):
                env = {**REDISS, **self.redis_files()}
                env[variable] = self.missing("gone.pem")
                self.assertRaisesExactly(
                    FileNotFoundError, f"SSL certificate file required by {variable} not found: {env[variable]}", env
                )

    def test_default_client_certificate_missing_next_to_a_mounted_ca(self):
        self.assertRaisesExactly(
            FileNotFoundError,
            "SSL certificate file required by NAUTOBOT_REDIS_SSL_CERTFILE not found: /etc/nautobot/mtls/tls.crt",
            REDISS,
            existing_files=[f"{MTLS}/ca.crt"],
        )

    def test_explicit_ca_path_must_exist(self):
        path = self.missing("ca.crt")
        self.assertRaisesExactly(
            FileNotFoundError,
            f"SSL certificate file required by NAUTOBOT_REDIS_SSL_CA_CERTS not found: {path}",
            {**REDISS, "NAUTOBOT_REDIS_SSL_CA_CERTS": path},
        )

    def test_client_certificates_with_a_plain_redis_url_fail(self):
        self.assertRaisesExactly(
            ValueError,
            'Redis client certificates are configured (NAUTOBOT_REDIS_SSL_CA_CERTS) but CACHES["default"]["LOCATION"] '
            "uses redis://; set NAUTOBOT_REDIS_SSL=true (Helm nautobot.redis.ssl: true) so that Nautobot connects "
            "with rediss://",
            self.redis_files(),
        )

    def test_client_certificates_with_a_plain_broker_url_fail(self):
        env = {**REDISS, **self.redis_files(), "NAUTOBOT_CELERY_BROKER_URL": "redis://broker:6379/0"}
        self.assertRaisesExactly(
            ValueError,
            "Redis client certificates are configured (NAUTOBOT_REDIS_SSL_CA_CERTS) but CELERY_BROKER_URL uses "
            "redis://; set NAUTOBOT_REDIS_SSL=true (Helm nautobot.redis.ssl: true) so that Nautobot connects with "
            "rediss://",
            env,
        )

    def test_existing_cache_options_and_broker_transport_options_are_kept(self):
        def prepare(settings):
            settings.CACHES["default"]["OPTIONS"]["CONNECTION_POOL_KWARGS"] = {"max_connections": 50}
            settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

        files = self.redis_files()
        config = self.load({**REDISS, **files}, prepare=prepare)
        options = config.CACHES["default"]["OPTIONS"]
        self.assertEqual(options["CLIENT_CLASS"], "django_redis.client.DefaultClient")
        self.assertEqual(options["PASSWORD"], "")
        self.assertEqual(options["CONNECTION_POOL_KWARGS"], {"max_connections": 50, **self.expected(files)})
        self.assertEqual(config.CELERY_BROKER_TRANSPORT_OPTIONS, {"visibility_timeout": 3600})

    def test_redis_tls_is_independent_of_the_database_mode(self):
        config = self.load({**REDISS, **self.redis_files()})
        self.assertNotIn("OPTIONS", config.DATABASES["default"])
        self.assertIsNotNone(config.CELERY_BROKER_USE_SSL)


class SettingsTests(ConfigTestCase):
    def test_understack_settings_default_to_empty(self):
        config = self.load({})
        self.assertEqual(config.UNDERSTACK_PARTITION, "")
        self.assertEqual(config.UNDERSTACK_SITE, "")

    def test_understack_settings_from_environment(self):
        config = self.load({"UNDERSTACK_PARTITION": "rax-dfw", "UNDERSTACK_SITE": "site-dc"})
        self.assertEqual(config.UNDERSTACK_PARTITION, "rax-dfw")
        self.assertEqual(config.UNDERSTACK_SITE, "site-dc")

    def test_only_intended_settings_are_added(self):
        # Django turns every UPPER-CASE module name into a setting; the config's helpers must not become settings.
        config = self.load({**REDISS, **self.redis_files()})
        settings = sys.modules["nautobot.core.settings"]
        added = {n for n in dir(config) if n.isupper()} - {n for n in dir(settings) if n.isupper()}
        self.assertEqual(
            added, {"CELERY_BROKER_USE_SSL", "CELERY_REDIS_BACKEND_USE_SSL", "UNDERSTACK_PARTITION", "UNDERSTACK_SITE"}
        )


class DumpSettingsTests(ConfigTestCase):
    """dump_settings.py is what the Go end-to-end tests read; check its contract."""

    def run_dump(self, env):
        return subprocess.run(
            [sys.executable, os.path.join(HERE, "dump_settings.py")],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
            capture_output=True,
            text=True,
            timeout=30,
        )

    def test_prints_the_tls_settings_as_json(self):
        db, redis = self.db_files(), self.redis_files()
        env = {
            "NAUTOBOT_DB_SSLMODE": "verify-ca",
            "NAUTOBOT_DB_SSLNEGOTIATION": "direct",
            "NAUTOBOT_REDIS_SSL_CERT_REQS": "required",
            "UNDERSTACK_SITE": "site-dc",
            **REDISS,
            **db,
            **redis,
        }
        result = self.run_dump(env)
        self.assertEqual(result.returncode, 0, result.stderr)
        kwargs = {
            "ssl_cert_reqs": "CERT_REQUIRED",
            "ssl_check_hostname": True,
            "ssl_ca_certs": redis["NAUTOBOT_REDIS_SSL_CA_CERTS"],
            "ssl_certfile": redis["NAUTOBOT_REDIS_SSL_CERTFILE"],
            "ssl_keyfile": redis["NAUTOBOT_REDIS_SSL_KEYFILE"],
        }
        self.assertEqual(
            json.loads(result.stdout),
            {
                "database_options": {
                    "sslmode": "verify-ca",
                    "sslcert": db["NAUTOBOT_DB_SSLCERT"],
                    "sslkey": db["NAUTOBOT_DB_SSLKEY"],
                    "sslrootcert": db["NAUTOBOT_DB_SSLROOTCERT"],
                    "sslnegotiation": "direct",
                },
                "cache_location": "rediss://localhost:6379/1",
                "cache_connection_pool_kwargs": kwargs,
                "celery_broker_url": "rediss://localhost:6379/0",
                "celery_broker_use_ssl": kwargs,
                "celery_redis_backend_use_ssl": kwargs,
                "understack_partition": "",
                "understack_site": "site-dc",
            },
        )
        # In-process and CLI agree.
        with mock.patch.dict(os.environ, env, clear=True):
            self.assertEqual(json.loads(result.stdout), tls_summary(load_config()))

    def test_configuration_error_exits_1_with_the_message(self):
        result = self.run_dump({"NAUTOBOT_DB_SSLMODE": "verify-ca"})
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertEqual(
            result.stderr.strip(),
            "FileNotFoundError: SSL certificate file required by NAUTOBOT_DB_SSLCERT not found: "
            "/etc/nautobot/mtls/tls.crt",
        )


if __name__ == "__main__":
    unittest.main()
