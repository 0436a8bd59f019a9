# ipvsd: build the native addon and the TypeScript in one stage, run on a slim image.
# Run with the host's network and the capabilities IPVS, VRRP and ICMP need:
#   docker run --rm --network host --cap-add NET_ADMIN --cap-add NET_RAW \
#     -v /etc/keepalived:/etc/keepalived:ro -v /run/ipvsd:/run/ipvsd ipvsd
# scripts/docker-check.sh builds and runs this file with buildah and podman, no Docker engine.
FROM node:20-bookworm AS build
WORKDIR /app
# node-gyp builds the addon against the headers the image ships in /usr/local/include/node
# instead of downloading them from nodejs.org.
ENV npm_config_nodedir=/usr/local npm_config_update_notifier=false
# Behind a TLS-intercepting proxy, npm needs its CA: mount the file into the build and name it,
#   podman build -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro \
#     --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.crt -t ipvsd .
# (an ARG, so it stays out of the image).
ARG NODE_EXTRA_CA_CERTS
COPY package.json package-lock.json binding.gyp tsconfig.json ./
COPY src ./src
COPY checkers ./checkers
# npm ci runs `prepare`, which builds the addon and compiles src/ and checkers/ to dist/.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
# package.json says "type": "module" and names the version; binding.gyp marks the package root
# where the addon loader looks for build/Release/nsock.node.
COPY --from=build /app/package.json /app/binding.gyp ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build/Release/nsock.node ./build/Release/nsock.node
COPY --from=build /app/dist ./dist
ENTRYPOINT ["node", "/app/dist/src/cli/ipvsd.js"]
CMD ["-f", "/etc/keepalived/keepalived.conf"]
