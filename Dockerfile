# One image for every Baton service; the service is chosen by argument:
#   docker run baton assigner | sender | inbound | reaper | bridge | migrate | token
FROM python:3.11-slim AS build
WORKDIR /src
# The dependencies exactly as locked (`make lock`), then Baton alone: no extras, so neither the
# pip-shipped Postgres nor NATS of `baton up` and the tests.
COPY deploy/requirements.lock ./
RUN python -m venv /opt/baton && /opt/baton/bin/pip install --no-cache-dir --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
# The `baton` development command's script goes: its code (tools/) is not in the image.
RUN /opt/baton/bin/pip install --no-cache-dir --no-deps . && /opt/baton/bin/pip check \
    && rm /opt/baton/bin/baton

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home baton
COPY --from=build /opt/baton /opt/baton
ENV PATH=/opt/baton/bin:$PATH PYTHONUNBUFFERED=1 BATON_LOG_FORMAT=json BATON_METRICS_HOST=0.0.0.0
USER 10001
EXPOSE 9100
ENTRYPOINT ["baton-entrypoint"]
CMD ["assigner"]
