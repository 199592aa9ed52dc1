# One image for the API, the workers and the reference portal; docker-compose.yml picks
# the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY workers ./workers
COPY shared ./shared
COPY templates ./templates
COPY examples ./examples
RUN pip install ".[portal]" \
    && useradd --system --uid 10001 --home-dir /app twostep
ENV TWOSTEP_TEMPLATES_DIR=/app/templates/email

USER twostep
EXPOSE 8080
CMD ["uvicorn", "--factory", "api.main:create_app", "--host", "0.0.0.0", "--port", "8080", "--proxy-headers"]
