# syntax=docker/dockerfile:1

# Build both binaries: the worker (steward-worker) and the CLI (steward).
# The worker is built without the embedded server (-tags nodev): a deployment
# has a Temporal cluster, and the server's code would be 180 MB of binary the
# worker never uses (its first backup in bench/backup peaked 55 MiB lower
# without it).
FROM golang:1.26-trixie AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -tags nodev -o /out/steward-worker ./worker && \
    go build -trimpath -ldflags="-s -w" -o /out/steward ./starter
# Directories the runtime user must own; a named volume mounted on them
# starts with this ownership.
RUN mkdir -p /out/state/repos /out/cache

# Static binaries on distroless: CA certificates, tzdata (plan time zones),
# no shell, runs as nonroot (65532).
FROM gcr.io/distroless/static-debian13:nonroot
COPY --from=build /out/steward-worker /out/steward /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/state /var/lib/steward
COPY --from=build --chown=65532:65532 /out/cache /var/cache/steward
USER 65532:65532
WORKDIR /var/lib/steward
ENTRYPOINT ["/usr/local/bin/steward-worker"]
