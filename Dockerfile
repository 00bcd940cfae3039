# certs-bot production image: build with dev dependencies, ship only dist/ and runtime dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the optional native add-ons (ssh2, cpu-features) are not needed; ssh2 uses Node crypto.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    CERTS_BOT_CONFIG=/etc/certs-bot/clusters.yaml
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config/clusters.example.yaml ./config/clusters.example.yaml
# The SSH key and known_hosts are mounted read-only at /run/secrets/certs-bot (see docker-compose.yml).
USER node
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["serve"]
