# syntax=docker/dockerfile:1

# One image for every Portcullis process; the command picks which one runs:
#   node services/gateway/dist/main.js            gateway, port 8080 (the default command)
#   node services/auth/dist/main.js               auth, port 8081
#   node services/standalone/dist/echo-main.js    the example upstream, port 8090
#   node packages/cli/dist/main.js                the portcullis CLI
# docker-compose.yml runs all three; test/compose.test.ts checks these paths against the build.

ARG NODE_IMAGE=node:20-bookworm-slim
# The npm of development and CI. From npm 11 the `allowScripts` field of package.json is honoured: bcrypt's
# and esbuild's install scripts are denied there (bcrypt loads the prebuilt binary it ships). The npm bundled
# with Node 20 ignores the field and would run bcrypt's install script, which falls back to compiling from
# source (no compiler in this image) wherever no prebuilt binary matches.
ARG NPM_VERSION=11.19.1

FROM ${NODE_IMAGE} AS base
ARG NPM_VERSION
RUN npm install --global "npm@${NPM_VERSION}" && npm cache clean --force
WORKDIR /app
# The lockfile and every workspace's manifest: all npm ci needs, so its layer survives source edits.
COPY package.json package-lock.json ./
COPY packages/errors/package.json packages/errors/
COPY packages/token/package.json packages/token/
COPY packages/config/package.json packages/config/
COPY packages/jwt/package.json packages/jwt/
COPY packages/revocation/package.json packages/revocation/
COPY packages/cli/package.json packages/cli/
COPY services/auth/package.json services/auth/
COPY services/gateway/package.json services/gateway/
COPY services/standalone/package.json services/standalone/

FROM base AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY services services
RUN npm run build

FROM base AS runtime
ENV NODE_ENV=production
# Production dependencies only; then prove bcrypt's prebuilt binary loads on this platform, or fail the build.
RUN npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force \
  && node -e "require('bcrypt').hashSync('prebuilt binary loads', 4)"
COPY --from=build /app/packages/errors/dist packages/errors/dist
COPY --from=build /app/packages/token/dist packages/token/dist
COPY --from=build /app/packages/config/dist packages/config/dist
COPY --from=build /app/packages/jwt/dist packages/jwt/dist
COPY --from=build /app/packages/revocation/dist packages/revocation/dist
COPY --from=build /app/packages/cli/dist packages/cli/dist
COPY --from=build /app/services/auth/dist services/auth/dist
COPY --from=build /app/services/gateway/dist services/gateway/dist
COPY --from=build /app/services/standalone/dist services/standalone/dist
# The OpenAPI documents auth and the gateway serve at /openapi.json, read from the package root at start-up.
COPY --from=build /app/services/auth/openapi.json services/auth/openapi.json
COPY --from=build /app/services/gateway/openapi.json services/gateway/openapi.json
# The code stays root-owned (read-only to the service); only auth's PGlite folder, used when DATABASE_URL is
# unset, is writable.
RUN mkdir .data && chown node:node .data
USER node
EXPOSE 8080 8081 8090
CMD ["node", "services/gateway/dist/main.js"]
