# The image a cluster executor runs (issue #16): `trainyard run-attempt` with the Node runtime,
# the built trainers and the Python packs' environment. One image serves every attempt; the
# Kubernetes executor names it in each Job, a Slurm site can run it with its container runtime
# (or install the same package on its nodes: EXECUTOR_LAUNCHER). It needs no database and no
# server secret: an attempt URL and the attempt token (TRAINYARD_ATTEMPT_TOKEN) are all.
#
#   docker build -t trainyard-launcher .
#   docker run --rm -e TRAINYARD_ATTEMPT_TOKEN=tya1.… trainyard-launcher \
#     run-attempt --url https://api.example/v1/jobs/<job>/attempts/<n>
#
# Not built in this project's CI: no Docker engine runs on its machines.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/*
COPY . .
# npm ci's prepare step builds dist/ (server, trainers, dashboard).
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
# The Python packs' pinned environment (PyTorch, transformers, diffusers, PEFT): ~5.7 GB.
RUN node dist/main.js setup python --venv /opt/trainyard/venv

FROM node:20-bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 --home-dir /work --create-home trainyard
COPY --from=build /app /app
COPY --from=build /opt/trainyard/venv /opt/trainyard/venv
ENV TRAINER_PYTHON=/opt/trainyard/venv/bin/python NODE_ENV=production
USER trainyard
WORKDIR /work
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["run-attempt", "--work-dir", "/work"]
