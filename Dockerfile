# drover's image: the CLI (`drover master`, `drover worker`, `drover submit`, ...) as its entrypoint.
#   docker build -t drover .   docker run --rm drover --help   docker run --rm drover master --help
# Two stages: the build needs the dev dependencies (TypeScript), the image runs with the
# production ones only. test/deploy.test.ts reads this file (FROM, USER, ENTRYPOINT/CMD).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The image's own non-root user (uid 1000): drover writes nothing to disk, it needs no root.
USER node
# Exec form: node is PID 1 and gets SIGTERM itself (drover stops gracefully on the first one).
ENTRYPOINT ["node", "bin/drover.js"]
CMD ["--help"]
