# flow-proxy in a container: compiled in Deno's image, run from a distroless
# one (glibc, no shell) as a non-root user. Not built in this project's CI:
# see "Container" in docs/operations.md.
#
#   docker build -t flow-proxy .
#   docker compose up -d          # with compose.yaml and ./secrets.json

FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json compile.lock main.ts ./
COPY src ./src
# The compile task carries the flags, permissions and --include of every build,
# and --lock=compile.lock --frozen: it fetches exactly the locked runtime
# dependencies (docs/install.md, "From source").
RUN deno task compile && mkdir /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/dist/flow-proxy /usr/local/bin/flow-proxy
COPY --from=build --chown=65532:65532 /data /data
# 0.0.0.0 so the published port reaches it; serve then refuses to start until a
# client key exists or FLOW_PROXY_ALLOW_ANONYMOUS=1 (docs/security.md).
ENV FLOW_PROXY_HOST=0.0.0.0 \
    FLOW_PROXY_SECRETS_FILE=/run/secrets/secrets.json \
    FLOW_PROXY_DB=/data/flow-proxy.db
VOLUME ["/data"]
WORKDIR /data
EXPOSE 8899
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/flow-proxy"]
CMD ["serve"]
