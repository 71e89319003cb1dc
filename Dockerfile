# syntax=docker/dockerfile:1
#
# grpc-web-gateway image.
#   docker build -t ghcr.io/example/grpc-web-gateway:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9901:9901 ghcr.io/example/grpc-web-gateway:0.1.0 \
#     --upstream=dns:///echo-headless:50051
#
# Two stages: build (all deps; npm ci's prepare bundles src/ and its dependencies into dist/ with
# esbuild, see scripts/bundle.mjs), runtime (dist + package.json, no node_modules at all, non-root).
# test/unit/dockerfile/runtime-stage.test.ts replays the runtime steps in a temp folder (no Docker
# engine there) and starts the result.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: npm ci runs the prepare script, which bundles src/ into dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs scripts/assets.mjs ./scripts/
COPY src ./src
# The npm cache lives in a BuildKit cache mount: reused between builds, never in a layer.
RUN --mount=type=cache,target=/root/.npm npm ci

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Everything owned by root and read-only to the gateway's user; the gateway writes nothing
# (Kubernetes runs it with readOnlyRootFilesystem).
# The bundle carries its dependencies: nothing to install, no node_modules to audit or ship.
COPY package.json ./
COPY --from=build /app/dist ./dist
COPY protos ./protos
# Numeric, so Kubernetes' runAsNonRoot can check it; matches runAsUser in k8s/.
USER 10001:10001
# 8080: gRPC-Web (HTTP/1.1); 9901: admin (/healthz /readyz /metrics /endpoints, dashboard).
EXPOSE 8080 9901
# Only for `docker run` (Kubernetes ignores it and uses the probes in k8s/); assumes the default
# admin address.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9901/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node runs as PID 1 directly, without a shell, so SIGTERM reaches it. No init (docker --init,
# tini) is needed: the gateway installs its own SIGTERM/SIGINT handlers (PID 1 gets no default
# signal actions, which is the usual reason for an init) and spawns no child processes whose
# zombies would need reaping.
ENTRYPOINT ["node", "dist/cli.js"]
# Defaults only; `docker run IMAGE --upstream=...` replaces this list (so repeat them if needed).
CMD ["--listen=0.0.0.0:8080", "--admin=0.0.0.0:9901"]
