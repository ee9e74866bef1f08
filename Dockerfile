# syntax=docker/dockerfile:1

# Build stage: a release build from the locked dependency set.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The whole workspace: the gateway and the sandbox crate it embeds (sandbox/); .dockerignore
# leaves out target/ and .git.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && cp target/release/heymarket-gateway /usr/local/bin/heymarket-gateway

# Runtime stage: a slim image running as an unprivileged user. TLS roots are compiled into the
# binary (rustls with webpki roots), so no CA bundle is needed.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin gateway
COPY --from=build /usr/local/bin/heymarket-gateway /usr/local/bin/heymarket-gateway
USER 10001

# Sandbox mode by default (no subcommand); listen on every interface inside the container.
ENV HEYMARKET_LISTEN=0.0.0.0:8080 \
    HEYMARKET_SANDBOX_LISTEN=0.0.0.0:8081 \
    HEYMARKET_LOG_FORMAT=json
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["heymarket-gateway", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["heymarket-gateway"]
