# syntax=docker/dockerfile:1
# The project image: `lrs serve` (default), `lrs worker`, `lrs migrate` and the rest of the `lrs` CLI.

# --- build: install the project and its dependencies into a virtual environment --------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A compiler only in case a dependency has no wheel for the target platform; it stays in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
RUN pip install --upgrade pip
# Dependencies first, at the versions of requirements.lock, in a layer of their own: a change to the code reuses it.
# The list is pyproject.toml's dependencies plus the report extra (`lrs report` works in the image), not dev's.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['report']))" > /tmp/requirements.txt \
    && pip install -c requirements.lock -r /tmp/requirements.txt
# Then the project itself, without touching the dependencies.
COPY README.md ./
COPY lrs ./lrs
COPY streams ./streams
COPY schemas ./schemas
RUN pip install . --no-deps

# --- runtime ---------------------------------------------------------------------------------------------
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LRS_HTTP_HOST=0.0.0.0 \
    LRS_HTTP_PORT=8080

RUN groupadd --system --gid 10001 lrs \
    && useradd --system --uid 10001 --gid lrs --home-dir /app --no-create-home --shell /usr/sbin/nologin lrs \
    && mkdir -p /app \
    && chown lrs:lrs /app

COPY --from=build /opt/venv /opt/venv

# Writable working directory of the non-root user (the Faust worker keeps its data directory here).
WORKDIR /app
USER lrs

EXPOSE 8080
CMD ["lrs", "serve"]
