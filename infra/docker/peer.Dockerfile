# dfstore peer and seed-peer daemon (one image; DFSTORE_ROLE picks the role).
# Build context: the repository root (infra/constructs/peers.ts). Multi-arch: built for ARM64.

FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY lib ./lib
# One ESM file, as the benchmarks run it; ali-oss needs proxy-agent only behind a proxy.
RUN npx esbuild lib/peer/main.ts --bundle --platform=node --format=esm --target=node22 \
      --minify --sourcemap --external:proxy-agent --outfile=dist/main.mjs \
      "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/dist/ ./
COPY infra/docker/entrypoint.mjs ./
# The piece store lives on the task's ephemeral storage (a volume mounted here).
RUN mkdir -p /var/lib/dfstore && chown node:node /var/lib/dfstore
VOLUME /var/lib/dfstore
USER node
EXPOSE 65002 65004
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:65002/healthy').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--enable-source-maps", "/app/entrypoint.mjs"]
