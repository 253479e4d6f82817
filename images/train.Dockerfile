# marketplace-train: the multimodal model in TensorFlow.js, in two flavours from this one file.
#  - GPU (the EKS GPU node group): TRAIN_BASE=<CUDA_IMAGE of images/bases.env>, TFJS_NATIVE=@tensorflow/tfjs-node-gpu
#    (libtensorflow 2.9 on CUDA 11 + cuDNN 8; its install script downloads libtensorflow, so this flavour
#    builds only where that download and the CUDA image's registry are reachable).
#  - CPU (one machine, offline): TRAIN_BASE=<NODE_IMAGE>, TFJS_NATIVE= (none): TF.js on its wasm backend,
#    which components/train/tfjs-backend/backend.ts picks by itself when no native package loads.
#   images/build.sh train         the GPU flavour, marketplace-train:<tag>
#   images/build.sh train-cpu     the CPU flavour, marketplace-train:<tag>-cpu
# Runs `node /app/dist/components/train/main.js` (the command pipelines/marketplace/components.ts gives it), as
# uid 1000, writing nothing outside /tmp and the folders it is given (read-only root filesystem).
# The base images are named in images/bases.env, nowhere else.
ARG NODE_IMAGE
ARG TRAIN_BASE

# Node itself comes from the node image (the CUDA image has none).
FROM ${NODE_IMAGE} AS node
RUN rm -rf /usr/local/lib/node_modules/corepack /usr/local/bin/corepack /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg

# 1. build: every dependency, TypeScript included; compile to dist/ (as the other images).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=secret,id=npm_ca,required=false \
    if [ -s /run/secrets/npm_ca ]; then export npm_config_cafile=/run/secrets/npm_ca; fi \
 && npm ci --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY scripts ./scripts
COPY tsconfig.json tsconfig.build.json ./
COPY components ./components
COPY pipelines ./pipelines
RUN npm run build

# 2. packages: what train's compiled code loads. Its native TF.js backend is imported by a computed
#    name (components/train/tfjs-backend/backend.ts), so the flavour names it: TFJS_NATIVE.
FROM build AS packages
RUN node scripts/component-deps.mjs list dist/components/train/main.js >/app/packages.txt

# 3. deps: production dependencies on the training base. Install scripts run for TFJS_NATIVE only
#    (tfjs-node-gpu downloads libtensorflow and builds its binding); then only train's packages are kept.
FROM ${TRAIN_BASE} AS deps
ARG TFJS_NATIVE=@tensorflow/tfjs-node-gpu
RUN if [ -n "${TFJS_NATIVE}" ]; then \
      apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 make g++ && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/include/node /usr/local/include/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=secret,id=npm_ca,required=false \
    if [ -s /run/secrets/npm_ca ]; then export npm_config_cafile=/run/secrets/npm_ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && if [ -n "${TFJS_NATIVE}" ]; then npm rebuild "${TFJS_NATIVE}" && node -e "require('${TFJS_NATIVE}')"; fi \
 && npm cache clean --force
COPY scripts/component-deps.mjs ./scripts/
COPY --from=packages /app/packages.txt ./
RUN node scripts/component-deps.mjs prune --from node_modules --to /app/pruned/node_modules --extra "$(paste -sd, packages.txt),${TFJS_NATIVE}"

# 4. runtime: the training base, node, train's node_modules and dist/, run as an unprivileged user.
FROM ${TRAIN_BASE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    MARKETPLACE_HOME=/tmp/marketplace \
    HOME=/tmp \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/pruned/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN node dist/components/train/main.js --help | grep -q '^Usage: '
LABEL org.opencontainers.image.title="marketplace-train" \
      io.marketplace.component="train"
# No passwd entry is needed for a numeric user; Kubernetes checks runAsNonRoot by the number.
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/components/train/main.js"]
