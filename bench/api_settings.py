"""Settings of the API load benchmark: the production settings with a bench-only URLconf.

``bench/api_load.py`` starts gunicorn with ``DJANGO_SETTINGS_MODULE=bench.api_settings``;
nothing else changes, so the measured endpoints run exactly as in production and the
ceiling views exist only in this process.
"""

from imaging.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_urls"
