# Sessionizer: build the TypeScript, then run it on the slim Node image with production dependencies only.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
COPY assembly ./assembly
RUN npm run build

FROM node:20-bookworm-slim
# Large allocations in transparent huge pages, as npm start has them (see the README: a load's page faults).
ENV NODE_ENV=production HOST=0.0.0.0 PORT=5000 DATA_DIR=/data CACHE_DIR=/cache GLIBC_TUNABLES=glibc.malloc.hugetlb=1
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts
COPY --from=build /app/dist ./dist
COPY public ./public
# The saved store, for fast restarts: a volume in the compose file, writable by the user the service runs as.
RUN mkdir /cache && chown node:node /cache
USER node
EXPOSE 5000
# The bundle itself, not npm start: /app is not the service's to write to, so V8's code cache is not kept.
CMD ["node", "dist/bundle/server.cjs"]
