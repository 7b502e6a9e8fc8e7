# Pingyi: one image for the web app. Production needs PINGYI_ENV=production,
# PINGYI_SECRET_KEY and PINGYI_DATABASE_URL=postgresql+psycopg://...
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PINGYI_VAR_DIR=/srv/pingyi/var \
    WORKERS=2

# A CJK font for the PDF slips (found at its Debian path; or set PINGYI_PDF_FONT).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system pingyi && useradd --system --gid pingyi --home-dir /srv/pingyi pingyi

WORKDIR /srv/pingyi
COPY pyproject.toml README.md alembic.ini babel.cfg ./
COPY requirements/app.lock ./requirements/
# Every dependency pinned with its hash (make lock), then the app itself without resolving.
RUN pip install --require-hashes -r requirements/app.lock
COPY app ./app
COPY migrations ./migrations
COPY surveys ./surveys
COPY templates ./templates
# Editable, so the app finds templates/, surveys/ and migrations/ beside its package.
RUN pip install --no-deps --no-build-isolation -e . && mkdir -p var && chown pingyi:pingyi var

USER pingyi
EXPOSE 8000
VOLUME ["/srv/pingyi/var"]

# Migrates, then serves without an access log: rating endpoints must leave no line with a time
# or an address (docs/privacy.md). docker-compose.yml runs the migration once, in its own container.
CMD ["sh", "-c", "pingyi db upgrade && exec pingyi serve --host 0.0.0.0 --port 8000 --workers ${WORKERS}"]
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
