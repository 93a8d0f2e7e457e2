# The enrollment service. Build: docker build -t enrollment-service .
# Two stages: the locked runtime dependencies are installed into a virtual environment where
# pip may live; the final image takes that environment, the code, its SQL and its migrations.
# PYTHON_IMAGE names the base; the default is the official image (the test bed passes a
# locally built stand-in, as no image registry is reachable there).
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The runtime dependencies at the versions CI tested, checked against their locked hashes;
# no embedded Postgres: in a container the database always comes from DATABASE_URL.
COPY requirements/image.txt /tmp/
# pip and setuptools leave the environment once they have installed it (23 MB the service
# never uses).
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r /tmp/image.txt \
    && /opt/venv/bin/pip uninstall --quiet --yes pip setuptools

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8000
# A named user for uid 10001: yoyo asks for the user's name (getpass.getuser()) in every
# migration it records, and a uid without a passwd entry has none.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin enrollment
# Copied whole, as installed: one layer of the packages alone, no wheels left behind.
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The code runs from /app (python -m service), beside the sql/ and migrations/ it reads.
COPY service ./service
COPY sql ./sql
COPY migrations ./migrations
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-m", "service.healthcheck"]
# Exec form: python is PID 1 and gets SIGTERM itself, so shutdown drains in-flight requests.
CMD ["python", "-m", "service"]
