# syntax=docker/dockerfile:1
# The runwait image: `runwait` as the entrypoint, on distroless (glibc, CA certificates,
# no shell), as a non-root user.
#
#   docker build -t runwait .
#   docker run --rm runwait exec --help

# The workspace's rust-version (Cargo.toml) or newer.
ARG RUST_VERSION=1.89

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
COPY . .
# The caches keep the registry and the build between builds; the binary is copied out of
# the cached target directory, which the next stage cannot see.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p runwait-cli \
    && cp target/release/runwait /usr/local/bin/runwait

# Debian 12 like the builder, so the glibc the binary was linked against is there.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /usr/local/bin/runwait /usr/local/bin/runwait
# Numeric, so that Kubernetes can check `runAsNonRoot` (65532 is distroless' nonroot).
USER 65532:65532
WORKDIR /home/nonroot
# runwait handles SIGTERM itself (it detaches, see deploy/README.md), also as PID 1.
ENTRYPOINT ["/usr/local/bin/runwait"]
CMD ["--help"]
