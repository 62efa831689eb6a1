# One image for every Hiremail process: web (the default command), worker and LMTP listener.
# compose.yaml starts each from it; docs/deploy.md explains the stack.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin hiremail

# The pinned runtime packages only (requirements.txt): first, so code changes reuse this layer.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN pybabel compile -d webapp/translations \
    && mkdir -p /data/storage /data/instance /run/prometheus \
    && chown -R hiremail:hiremail /data /run/prometheus

USER hiremail
# Production mode: the processes refuse to start without SECRET_KEY, INBOUND_SECRET,
# DATABASE_URL and REDIS_URL (webapp/config.py). STORAGE_DIR is the volume shared by all.
# The web sets PROMETHEUS_MULTIPROC_DIR=/run/prometheus itself (compose.yaml): prometheus_client
# takes the variable's mere presence, even empty, for multiprocess mode, so it is not set here.
ENV HIREMAIL_ENV=production \
    STORAGE_DIR=/data/storage \
    INSTANCE_DIR=/data/instance \
    BIND=0.0.0.0:8000

EXPOSE 8000 2525
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
