# A tierwatch runner. TARGET selects the triple: the native one runs as is;
# aarch64, s390x and riscv64 are cross-built and run under qemu-user
# (scripts/qemu-run), exactly as scripts/cross does outside Docker.
#   docker build -f docker/runner.Dockerfile --build-arg TARGET=s390x-unknown-linux-gnu -t tierwatch-runner-s390x .
FROM rust:1.95-bookworm AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG TARGET=x86_64-unknown-linux-gnu
WORKDIR /src
COPY . .
RUN if [ "$TARGET" != x86_64-unknown-linux-gnu ]; then \
      apt-get update && apt-get install -y --no-install-recommends qemu-user \
        gcc-aarch64-linux-gnu gcc-s390x-linux-gnu gcc-riscv64-linux-gnu \
        libc6-dev-arm64-cross libc6-dev-s390x-cross libc6-dev-riscv64-cross \
      && rustup target add "$TARGET" \
      && CARGO_TARGET_DIR=/src/target scripts/cross build "$TARGET" \
      && cp "target/$TARGET/emulated/tierwatch-runner" /tierwatch-runner; \
    else \
      cargo build --locked --profile emulated -p tierwatch-runner \
      && cp target/emulated/tierwatch-runner /tierwatch-runner; \
    fi

FROM debian:bookworm-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG TARGET=x86_64-unknown-linux-gnu
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && if [ "$TARGET" != x86_64-unknown-linux-gnu ]; then \
         apt-get install -y --no-install-recommends qemu-user \
           "libc6-$(echo "$TARGET" | sed 's/-unknown-linux-gnu//; s/aarch64/arm64/; s/riscv64gc/riscv64/')-cross"; \
       fi \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /tierwatch-runner /usr/local/libexec/tierwatch-runner
COPY scripts/qemu-run /usr/local/bin/qemu-run
COPY runners/emulated-subset.txt /etc/tierwatch/emulated-subset.txt
RUN printf '#!/bin/sh\ncase "%s" in x86_64-*) exec /usr/local/libexec/tierwatch-runner "$@";; *) exec qemu-run %s /usr/local/libexec/tierwatch-runner "$@";; esac\n' \
      "$TARGET" "$(echo "$TARGET" | cut -d- -f1 | sed 's/riscv64gc/riscv64/')" > /usr/local/bin/tierwatch-runner \
    && chmod +x /usr/local/bin/tierwatch-runner
ENV TIERWATCH_SPOOL=/var/lib/tierwatch/spool
VOLUME /var/lib/tierwatch
ENTRYPOINT ["tierwatch-runner"]
CMD ["run"]
