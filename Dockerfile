# mss-harness container image: a multi-stage build, a small non-root runtime.
# Build: docker build -t mss-harness:0.1.0 .
# It is not built in this repository's CI (no registry access there); keep it
# minimal and conventional.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --profile dist -p mss-harness \
    && strip target/dist/mss-harness

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/dist/mss-harness /usr/local/bin/mss-harness
WORKDIR /results
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/mss-harness"]
CMD ["run"]
