"""Stand-in for django_prometheus' RedisCache (the chart sets NAUTOBOT_METRICS_ENABLED=true, so Nautobot's
settings name it). Only Django's system checks instantiate it in this test: the worker never uses the cache,
so it stores nothing (Django 3.2 has no Redis cache of its own and django-redis is not installed)."""

from django.core.cache.backends.dummy import DummyCache


class RedisCache(DummyCache):
    def __init__(self, server, params):
        super().__init__(server, params)
