"""Settings of the minimal Django project (no database, no templates: a JSON API)."""

from __future__ import annotations

SECRET_KEY = "django-example-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]  # the same hosts as HARDENING_HOSTS__ALLOWED_HOSTS in asgi.py
ROOT_URLCONF = "examples.django_app.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
