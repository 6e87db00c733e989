# Godwit image: godwit-worker (the default entrypoint) and the godwit CLI.
#
# Build:
#   docker build -t godwit .                  # or: docker compose build
#
# Run a worker (settings come from GODWIT_* variables, see config/settings.go):
#   docker run --rm -e GODWIT_TEMPORAL_ADDRESS=temporal.example:7233 godwit
#
# The same image runs the CLI. The entrypoint is godwit-worker, so name the
# CLI as the entrypoint (arguments after the image are appended to the
# entrypoint: `docker run godwit godwit status demo` would start a worker):
#   docker run --rm --entrypoint godwit -e GODWIT_TEMPORAL_ADDRESS=... godwit status demo
#   docker compose run --rm --no-deps --entrypoint godwit worker status demo
#   docker compose exec worker godwit status demo   # exec ignores the entrypoint
#
# The runtime image has a shell and coreutils/diffutils because command hooks
# run programs (examples/demo.yaml uses sh, wc, cmp, tail, head and mv). Hooks
# that need other tools need an image built FROM this one with them added.

FROM golang:1.26.0-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags "-s -w" -o /out/godwit-worker ./worker \
 && go build -trimpath -ldflags "-s -w" -o /out/godwit ./starter \
 && go build -trimpath -ldflags "-s -w" -o /out/godwit-gateway ./gateway/cmd/godwit-gateway

FROM debian:12.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates diffutils \
 && rm -rf /var/lib/apt/lists/*
# A fixed non-root user. /tmp/godwit-demo is the demo's working directory;
# it exists here, owned by godwit, so that a volume mounted on it starts out
# writable by the worker.
RUN groupadd --system --gid 10001 godwit \
 && useradd --system --uid 10001 --gid godwit --create-home --home-dir /home/godwit \
      --shell /usr/sbin/nologin godwit \
 && mkdir -p /tmp/godwit-demo /var/lib/godwit-gateway \
 && chown godwit:godwit /tmp/godwit-demo /var/lib/godwit-gateway
COPY --from=build /out/godwit-worker /out/godwit /out/godwit-gateway /usr/local/bin/
COPY examples/ /opt/godwit/examples/
# The worker and the CLI read ./godwit.yaml when it exists: mount a settings
# file at /opt/godwit/godwit.yaml, or name one with GODWIT_CONFIG.
WORKDIR /opt/godwit
USER godwit
# godwit-worker stops polling on SIGTERM and lets running phases finish their
# current step (up to 10 s): give `docker stop` more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["godwit-worker"]
