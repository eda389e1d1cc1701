"""Celery's configuration: the CELERY_* Django settings, copied into a plain dict when the Celery
app first reads its configuration (dashboard/celery.py names this module lazily).

Given Django's settings object instead, Celery looks every option up there on each use, under
its old and new names, and most of those lookups miss: a Django settings miss raises and catches
an AttributeError. Publishing one task made about 30 of them, a fifth of its CPU. Settings are
read once at start, like everything else Celery configures."""

from django.conf import settings

CELERY = {name: getattr(settings, name) for name in dir(settings) if name.startswith("CELERY_")}
