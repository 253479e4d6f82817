# syntax=docker/dockerfile:1.7
# marketplace-evaluate: evaluate (held-out metrics against production; the promote gate).
# Retrieval is scored against exact FAISS search, so this image carries faiss-node like index and serve.
# Runs `node /app/dist/components/evaluate/main.js` (the command pipelines/components.ts gives it).
# Build from the repository root (images/build.sh does it for every image):
#   docker build -f images/evaluate.Dockerfile -t <registry>/marketplace-evaluate:<tag> .
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
# faiss-node is compiled against Debian's libfaiss (static) by the project's own script
# (scripts/build-faiss.mjs); its own install script, which downloads binaries, stays denied.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ libfaiss-dev libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
COPY scripts ./scripts
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && node scripts/build-faiss.mjs --require \
 && npm cache clean --force

# 3. runtime: node, production node_modules and dist/, owned by root and run as an unprivileged
#    user, so the code cannot rewrite itself; the root filesystem can be mounted read-only (the
#    embedded defaults and temporary files go to MARKETPLACE_HOME under /tmp, an emptyDir on Kubernetes).
FROM ${NODE_IMAGE}
# What the faiss binding links at run time: OpenBLAS (as BLAS and LAPACK) and OpenMP.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread libgomp1 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    MARKETPLACE_HOME=/tmp/marketplace
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The node image's unprivileged user, by number so Kubernetes can check runAsNonRoot.
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/components/evaluate/main.js"]
