# certs-bot production image: build with dev dependencies, ship only dist/ and runtime dependencies.
# Node 24, an LTS line supported until April 2028 (Node 20 reached its end of life in April 2026).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the optional native add-ons (ssh2, cpu-features) are not needed; ssh2 uses Node crypto.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    CERTS_BOT_CONFIG=/etc/certs-bot/clusters.yaml
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config/clusters.example.yaml ./config/clusters.example.yaml
# The SSH key and known_hosts are mounted read-only at /run/secrets/certs-bot (see docker-compose.yml).
# Nothing is written at run time: the image runs with a read-only root file system (compose sets
# read_only, with a tmpfs on /tmp).
USER node
# 9464: METRICS_PORT, /metrics and /healthz. 3000: PORT, Slack HTTP mode (unused with Socket Mode).
EXPOSE 9464 3000
# node itself, as slim images have no curl; METRICS_PORT is read when the check runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["serve"]
