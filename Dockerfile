# The receiver, the dispatcher and the exporter/simulator: one image, three commands.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md d76config.py d76secrets.py ./
COPY exporter ./exporter
COPY receiver ./receiver
COPY stack ./stack
RUN pip install --no-cache-dir '.[receiver]'
COPY config ./config
COPY docs/runbooks ./docs/runbooks

ENV D76_CONFIG_DIR=/app/config \
    D76_RUNBOOKS_DIR=/app/docs/runbooks \
    PYTHONUNBUFFERED=1
USER nobody
CMD ["python", "-m", "receiver", "serve"]
