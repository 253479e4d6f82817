# syntax=docker/dockerfile:1.7
# marketplace-train: train (the multimodal model in TensorFlow.js) on the GPU node group, with
# @tensorflow/tfjs-node-gpu (libtensorflow 2.9 on CUDA 11 + cuDNN 8). Without a visible GPU the
# component falls back to tfjs-node or wasm by itself (components/train/tf/backend.ts).
# Runs `node /app/dist/components/train/main.js` (the command pipelines/components.ts gives it).
# Build from the repository root (images/build.sh does it for every image):
#   docker build -f images/train.Dockerfile -t <registry>/marketplace-train:<tag> .
#
# Base images pinned by digest; move them by looking up new digests
# (`docker buildx imagetools inspect <image:tag>`) and passing --build-arg NODE_IMAGE=… / CUDA_IMAGE=….
# libtensorflow 2.9 was built for CUDA 11.2: any CUDA 11.x runtime with cuDNN 8 serves it.
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0
ARG CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04@sha256:85fb7ac694079fff1061a0140fd5b5a641997880e12112d92589c3bbb1e8b7ca

# Node itself comes from the official image (the CUDA image has none).
FROM ${NODE_IMAGE} AS node

# 1. build: every dependency, TypeScript included; compile to dist/ (no install scripts needed).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY scripts ./scripts
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY components ./components
COPY pipelines ./pipelines
RUN npm run build

# 2. deps: production dependencies on the CUDA base. Install scripts are allowed here, for
#    @tensorflow/tfjs-node-gpu only: it downloads libtensorflow (GPU) and builds its binding.
FROM ${CUDA_IMAGE} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/include/node /usr/local/include/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild @tensorflow/tfjs-node-gpu \
 && node -e "require('@tensorflow/tfjs-node-gpu')" \
 && npm cache clean --force

# 3. runtime: the CUDA runtime, node, production node_modules and dist/, run as an unprivileged
#    user; nothing is written outside /tmp (MARKETPLACE_HOME), so the root filesystem can be read-only.
FROM ${CUDA_IMAGE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    MARKETPLACE_HOME=/tmp/marketplace \
    HOME=/tmp \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# No passwd entry is needed for a numeric user; Kubernetes checks runAsNonRoot by the number.
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/components/train/main.js"]
