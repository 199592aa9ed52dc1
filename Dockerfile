# One image for the API, the workers and the reference portal; docker-compose.yml (and
# deploy/k8s) picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements/image.txt ./requirements/
COPY api ./api
COPY workers ./workers
COPY shared ./shared
COPY templates ./templates
COPY examples ./examples
# The Python client the reference portal calls twostep with (its httpx and pydantic are in
# the lock): what its wheel is made of, not its tests.
COPY clients/python/pyproject.toml clients/python/README.md clients/python/LICENSE ./clients/python/
COPY clients/python/src ./clients/python/src
# The locked versions and hashes first (scripts/lock), then twostep and its client without
# resolving.
RUN pip install --require-hashes -r requirements/image.txt \
    && pip install --no-deps . ./clients/python \
    && groupadd --system --gid 10001 twostep \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app twostep
ENV TWOSTEP_TEMPLATES_DIR=/app/templates/email

# Numeric, so Kubernetes can check runAsNonRoot; deploy/k8s runs as the same user.
USER 10001:10001
# The API; a worker's /metrics.
EXPOSE 8080 9808
CMD ["uvicorn", "--factory", "api.main:create_app", "--host", "0.0.0.0", "--port", "8080", "--proxy-headers"]
