# syntax=docker/dockerfile:1
# One image per function, all from this file:
#
#   docker build --build-arg FUNCTION=chat \
#     --build-arg GROUPS="$(python -m localplatform.images groups chat)" \
#     -t protostar/function-chat .
#
# FUNCTION is the directory under functions/; GROUPS its package groups
# (functions/$FUNCTION/needs.yaml: documents, llm, ml, mail). The image installs
# locks/base.lock and each group's lock, nothing else: no torch outside the embedder, no
# document parsers outside content, embed and chat, no dev, test or bench package in any.
# The image runs
# functions/$FUNCTION/main.py with functions-framework (ASGI); the Knative Service
# sets FUNCTION_TARGET (and FUNCTION_SIGNATURE_TYPE) in its env. See knative/README.md.
#
# BASE: any Debian bookworm with python3.11 and its venv module. The default is the
# official slim image; `./scripts/images` builds from a debootstrap base instead and
# passes PIP_ARGS="--no-index --find-links /wheels" with a wheelhouse mounted at /wheels.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE}

# HOME: the function's user has no home directory, and gunicorn's control socket
# wants a writable one.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    HOME=/tmp \
    PATH=/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

WORKDIR /app
RUN python3.11 -m venv /venv

# The base lock first: one layer that every function image shares (nothing before it
# depends on the build args, so the cache holds); then the function's groups.
# torch's pin is the CPU build (+cpu): its wheels are on PyTorch's own index.
COPY locks/ locks/
ARG PIP_ARGS=""
RUN pip install --no-deps $PIP_ARGS -r locks/base.lock
ARG GROUPS=""
RUN for group in $GROUPS; do \
      test -f "locks/$group.lock" || { echo "no locks/$group.lock" >&2; exit 1; }; \
      pip install --no-deps --extra-index-url https://download.pytorch.org/whl/cpu $PIP_ARGS \
        -r "locks/$group.lock" || exit 1; \
    done && rm -rf locks

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin protostar

COPY shared/ shared/
COPY events/ events/
# Pages, the widget loader and static files (served by the web function).
COPY web/ web/

ARG FUNCTION
RUN test -n "$FUNCTION" || { echo "build with --build-arg FUNCTION=<dir under functions/>" >&2; exit 1; }
COPY functions/${FUNCTION}/ functions/${FUNCTION}/
RUN test -f "functions/${FUNCTION}/main.py" || { echo "functions/${FUNCTION}/main.py not found" >&2; exit 1; }

ENV FUNCTION=${FUNCTION} \
    PROTOSTAR_ENV=production \
    PORT=8080

USER 10001
EXPOSE 8080

# Knative sends SIGTERM to PID 1: exec so that functions-framework receives it.
CMD ["sh", "-c", "exec functions-framework --asgi --source \"functions/${FUNCTION}/main.py\" --target \"${FUNCTION_TARGET:?set FUNCTION_TARGET}\""]
