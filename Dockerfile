# syntax=docker/dockerfile:1
# One image for every TaskSync service. docker-compose.yml chooses the service
# per container with `npm run start -w @tasksync/<service>` (design §8); health
# checks live there too, one per service.

ARG NODE_VERSION=20.20
# The npm that wrote package-lock.json; Node 20 ships npm 10, which ignores the
# `allowScripts` policy in package.json and would run every install script.
ARG NPM_VERSION=11.19.1

FROM node:${NODE_VERSION}-bookworm-slim AS base
ARG NPM_VERSION
RUN npm install --global npm@${NPM_VERSION} && npm cache clean --force
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
WORKDIR /app

FROM base AS deps
# better-sqlite3 compiles from source when no prebuilt binary fits.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
# Manifests first, so a source change reuses the installed dependencies.
COPY package.json package-lock.json ./
COPY contracts/package.json contracts/
COPY platform/package.json platform/
COPY identity-service/package.json identity-service/
COPY command-service/package.json command-service/
COPY projector/package.json projector/
COPY archiver/package.json archiver/
COPY query-service/package.json query-service/
COPY notifier/package.json notifier/
COPY gateway/package.json gateway/
COPY client/package.json client/
COPY load/package.json load/
# Production dependencies only: tsx is one (the services run their TypeScript
# through it); vitest, biome and playwright-core are not.
RUN npm ci --omit=dev

# The front door for docker-compose (design §12): nginx with the configuration
# generated from the routing table, and the merged OpenAPI document and the
# reference page written by the same script.
FROM deps AS door-files
COPY . .
RUN node --import tsx scripts/door-files.ts --static /door

FROM nginx:1.27-alpine AS door
COPY --from=door-files /door /usr/share/tasksync-door
COPY gateway/nginx/tasksync.conf /etc/nginx/conf.d/default.conf
EXPOSE 3000

FROM base AS runtime
ENV NODE_ENV=production
# /app/node_modules and any workspace's own node_modules (workspace links included).
COPY --from=deps /app ./
COPY . .
# Nothing to build: the notifier bundles the board page (notifier/board/*.ts) with
# esbuild, a production dependency, in memory when it starts, so no file is
# written under /app, which the service user could not write anyway.
# Owned by the service user, so a named volume mounted here starts writable for
# it (Docker copies the directory's ownership into an empty volume).
RUN mkdir -p /data/read-model /data/archive /app/data \
    && chown node:node /data/read-model /data/archive /app/data
USER node
EXPOSE 3001 3002 3003 3004 3005
CMD ["node", "-e", "console.error('Choose a service: npm run start -w @tasksync/<identity-service|command-service|projector|query-service|notifier> (see docker-compose.yml)'); process.exit(64)"]
