# ipvsd: build the native addon and the TypeScript in one stage, run on a slim image.
# Run with the host's network and the capabilities IPVS, VRRP and ICMP need:
#   docker run --rm --network host --cap-add NET_ADMIN --cap-add NET_RAW \
#     -v /etc/keepalived:/etc/keepalived:ro -v /run/ipvsd:/run/ipvsd ipvsd
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json binding.gyp tsconfig.json ./
COPY src ./src
# npm ci runs `prepare`, which builds the addon (node-gyp, local headers) and compiles to dist/.
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json /app/binding.gyp ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build/Release/nsock.node ./build/Release/nsock.node
COPY --from=build /app/dist ./dist
ENTRYPOINT ["node", "/app/dist/src/cli/ipvsd.js"]
CMD ["-f", "/etc/keepalived/keepalived.conf"]
