# syntax=docker/dockerfile:1.7
# marketplace-load: the raw loader (an export folder or the demo catalogue into the raw tables and the object store).
# Runs `node /app/dist/components/load/main.js` (the command pipelines/components.ts gives it).
# Build from the repository root (images/build.sh does it for every image):
#   docker build -f images/load.Dockerfile -t <registry>/marketplace-load:<tag> .
#
# Base image pinned by digest: node:20-bookworm-slim (Debian 12, linux/amd64). To move it, look up
# the new digest (`docker buildx imagetools inspect node:20-bookworm-slim`) and change it here, or pass
# --build-arg NODE_IMAGE=node:20-bookworm-slim@sha256:<digest>.
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

# 1. build: every dependency, TypeScript included; compile to dist/. Install scripts stay off: tsc
#    needs no native module, and the optional TensorFlow packages would download libtensorflow.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY scripts ./scripts
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY components ./components
COPY pipelines ./pipelines
RUN npm run build

# 2. deps: production dependencies only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. runtime: node, production node_modules and dist/, owned by root and run as an unprivileged
#    user, so the code cannot rewrite itself; the root filesystem can be mounted read-only (the
#    embedded defaults and temporary files go to MARKETPLACE_HOME under /tmp, an emptyDir on Kubernetes).
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    MARKETPLACE_HOME=/tmp/marketplace
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The node image's unprivileged user, by number so Kubernetes can check runAsNonRoot.
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/components/load/main.js"]
