# The image of a Node component that needs no native build: load, clean, drift, deploy.
#   images/build.sh load clean drift deploy      (or, by hand, from the repository root:)
#   docker build -f images/node.Dockerfile --build-arg COMPONENT=clean --build-arg NODE_IMAGE=<images/bases.env> -t marketplace-clean:<tag> .
# The image runs `node /app/dist/components/<COMPONENT>/main.js` (the command pipelines/marketplace/components.ts
# gives the component, and the image's own entrypoint). It carries only the
# packages that file's imports reach (scripts/component-deps.mjs), runs as uid 1000, and writes
# nothing outside /tmp and the folders it is given, so the root filesystem can be read-only.
# The base image is named in images/bases.env, nowhere else.
ARG NODE_IMAGE

# 1. build: every dependency, TypeScript included; compile to dist/. Install scripts stay off: tsc
#    needs no native module, and the optional TensorFlow packages would download libtensorflow.
#    The npm registry's certificate authority, where a proxy re-signs TLS, comes in as a build secret
#    (images/build.sh passes the host's bundle): mounted for that one command, never in a layer.
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

# 2. packages: what the component's compiled code loads (static and dynamic imports, require).
FROM build AS packages
ARG COMPONENT
RUN test -f "dist/components/${COMPONENT}/main.js" \
 && node scripts/component-deps.mjs list "dist/components/${COMPONENT}/main.js" >/app/packages.txt

# 3. deps: production dependencies (one lock file for the project), then only the component's
#    packages and what they need, copied to /app/pruned.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=secret,id=npm_ca,required=false \
    if [ -s /run/secrets/npm_ca ]; then export npm_config_cafile=/run/secrets/npm_ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY scripts/component-deps.mjs ./scripts/
COPY --from=packages /app/packages.txt ./
RUN node scripts/component-deps.mjs prune --from node_modules --to /app/pruned/node_modules --extra "$(paste -sd, packages.txt)"

# 4. runtime base: the node image without npm, corepack, yarn and the C headers (a component installs
#    nothing at run time), flattened into one layer so that they are really gone.
FROM ${NODE_IMAGE} AS slim
RUN rm -rf /usr/local/lib/node_modules /usr/local/include /usr/local/share/doc /usr/local/share/man /opt/yarn-* \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg \
      /root/.npm /tmp/* \
 && node --version

# 5. runtime: node, the component's node_modules and dist/, owned by root and run as an unprivileged
#    user, so the code cannot rewrite itself.
FROM scratch
COPY --from=slim / /
ARG COMPONENT
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    HOME=/tmp \
    MARKETPLACE_HOME=/tmp/marketplace
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/pruned/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN node "dist/components/${COMPONENT}/main.js" --help | grep -q '^Usage: '
LABEL org.opencontainers.image.title="marketplace-${COMPONENT}" \
      io.marketplace.component="${COMPONENT}"
# The node image's unprivileged user, by number so Kubernetes can check runAsNonRoot.
USER 1000:1000
# The component's compiled entrypoint (an exec-form ENTRYPOINT cannot name a build argument, so the
# shell substitutes it and then gives its process to node). Kubeflow and the local runner run the
# pipeline's own command, `node /app/dist/components/<name>/main.js …`, instead.
ENV MARKETPLACE_COMPONENT=${COMPONENT}
ENTRYPOINT ["/bin/sh", "-c", "exec node \"/app/dist/components/$MARKETPLACE_COMPONENT/main.js\" \"$@\"", "--"]
