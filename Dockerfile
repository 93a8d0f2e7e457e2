# The enrollment service. Build: docker build -t enrollment-service .
# Two stages: wheels are built where pip and compilers may live; the final image holds
# only the runtime dependencies, the code, its SQL and its migrations.

FROM python:3.11.10-slim-bookworm AS build
WORKDIR /src
# The runtime dependencies at the versions CI tested, checked against their locked hashes;
# no embedded Postgres: in a container the database always comes from DATABASE_URL.
COPY requirements/image.txt ./
RUN pip wheel --no-cache-dir --require-hashes --no-deps --wheel-dir /wheels -r image.txt

FROM python:3.11.10-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --no-deps /wheels/*.whl && rm -rf /wheels
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
