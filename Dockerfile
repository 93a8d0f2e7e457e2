# The enrollment service. Hardening (multi-stage, pinned digest, healthcheck) comes with
# the deployment work; this image is already complete: code, SQL and migrations.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0 PORT=8000
WORKDIR /app

COPY pyproject.toml README.md ./
COPY service ./service
COPY sql ./sql
COPY migrations ./migrations
# Editable, so the service finds sql/ and migrations/ beside its package in /app.
RUN pip install --no-cache-dir -e . && useradd --uid 10001 --no-create-home app

USER 10001
EXPOSE 8000
CMD ["python", "-m", "service"]
