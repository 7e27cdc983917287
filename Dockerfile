# syntax=docker/dockerfile:1
# One image for every role, chosen by the command: web (default), worker, beat, migrate.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=imaging.settings \
    DEBUG=false \
    PORT=8000
RUN useradd --create-home --uid 10001 app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=app:app . /app
# collectstatic needs settings to import; these throwaway values exist only for this step.
RUN SECRET_KEY=build-only JWT_SIGNING_KEY=build-only AWS_ACCESS_KEY_ID=x \
    AWS_SECRET_ACCESS_KEY=x python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown app:app /app/var
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/healthz', timeout=2)"
ENTRYPOINT ["/app/scripts/entrypoint.sh"]
CMD ["web"]
