#!/usr/bin/env bash
# The offline LocalStack harness: set up everything from a fresh machine, deploy the Pulumi
# program to LocalStack Community (host mode, from PyPI), run the end-to-end tests or the demo,
# and tear everything down whatever happens.
#
#   bash localstack/run.sh e2e     # tests/e2e against the deployed stack
#   bash localstack/run.sh demo    # IMAGE=path (default dog.jpg) through the S3 and HTTP paths
#
# Environment: IMAGE (demo input), IMAGE_TAG (the Lambda image tag, default
# darknet-lambda:yolov3-tiny, as `make image` builds it), E2E_PYTEST_ARGS (extra pytest arguments), LOCALSTACK_MODE
# (host: LocalStack Community from PyPI, offline, the default; compose: docker-compose.yml).
set -euo pipefail

mode="${1:?usage: run.sh e2e|demo}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache/localstack"
venv="$root/.cache/localstack-venv"
state="$cache/run"
function_image="${IMAGE_TAG:-darknet-lambda:yolov3-tiny}"
localstack_version="2026.3.0"
localstack_python="3.13"
started_at=$(date +%s)
localstack_mode="${LOCALSTACK_MODE:-host}"
container_prefix="darknet-e2e"
ls_pid=""
deployed=""
summary=()

log() { printf 'harness: %s\n' "$*" >&2; }
step() { summary+=("$(printf '%-28s %4ss' "$1" "$(($(date +%s) - $2))")"); }

ensure_localstack_venv() {
  # LocalStack 2026.3 needs Python >= 3.13 for its package installers (3.12 fails on `Lock | None`).
  local stamp="$venv/.darknet-stamp"
  local want
  want="$localstack_version $(cat "$root/localstack/plugin/pyproject.toml" "$root"/localstack/plugin/darknet_localstack_plugin/*.py | sha1sum)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  local python
  python="$(pyenv prefix "$(pyenv versions --bare | grep -E "^${localstack_python}(\.[0-9]+)?$" | sort -V | tail -n1)")/bin/python"
  log "creating LocalStack venv ($python)"
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --cache-dir "$root/.cache/pip" \
    "localstack-core[runtime]==$localstack_version" 'cbor2<6' 'pyopenssl<25' 'cryptography<45' \
    service_identity setuptools
  # Build the plugin from a copy so nothing is written into the source tree.
  rm -rf "$cache/plugin-build" && mkdir -p "$cache" && cp -r "$root/localstack/plugin" "$cache/plugin-build"
  "$venv/bin/pip" install -q --no-deps --no-build-isolation --force-reinstall "$cache/plugin-build"
  rm -rf "$cache/plugin-build" "$cache/xdg/plux"  # plux caches the entry points it found
  echo "$want" >"$stamp"
}

docker_bridge_address() {
  # Function containers reach LocalStack through the bridge's host address; docker does not
  # always record it as the network's gateway, so fall back to the interface itself.
  local address
  address="$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}')"
  if [[ -z "$address" ]]; then
    address="$(ip -4 -o addr show docker0 | awk '{split($4, a, "/"); print a[1]; exit}')"
  fi
  [[ -n "$address" ]] || { log "cannot find the docker bridge address"; return 1; }
  echo "$address"
}

# LocalStack retries a failed asynchronous invocation after this many seconds (60 by default, then
# twice and three times as long): short enough that a retry shows within the tests' wait for one.
# The tests read it from the environment.
export LAMBDA_RETRY_BASE_DELAY=5

localstack_env() {
  local bridge
  bridge="$(docker_bridge_address)"
  export OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$cache/fs" TMPDIR="$cache/tmp" XDG_CACHE_HOME="$cache/xdg"
  # LocalStack binds every interface on the port whatever host is given here.
  export GATEWAY_LISTEN="0.0.0.0:4566" HOSTNAME_FROM_LAMBDA="$bridge"
  export DNS_ADDRESS=0 DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1
  export SERVICES="s3,lambda,apigateway,iam,sts,logs,sqs,cloudwatch,events,sns"
  export LAMBDA_KEEPALIVE_MS=600000 LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT=60
  # The queue's poller backs off up to 10 s after empty polls; AWS's long polling answers at once.
  export LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC=1
  # Function containers are named MAIN_CONTAINER_NAME-lambda-<function>-<id>.
  export MAIN_CONTAINER_NAME="$container_prefix"
}

install_lambda_init() {
  # LocalStack treats its init binary as installed when this file exists; ours wraps AWS's RIE.
  local target
  target="$("$venv/bin/python" -c '
from localstack.packages.api import InstallTarget
from localstack.services.lambda_.packages import lambda_runtime_package
installer = lambda_runtime_package.get_installer()
print(installer._get_install_marker_path(installer._get_install_dir(InstallTarget.VAR_LIBS)))')"
  mkdir -p "$(dirname "$target")"
  install -m 0755 "$root/localstack/lambda-init/init.py" "$target"
}

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -f "$root/localstack/docker-compose.yml" "$@"
  else
    docker-compose -f "$root/localstack/docker-compose.yml" "$@"
  fi
}

wait_for_localstack() {
  for _ in $(seq 1 240); do
    if curl -fsS --max-time 2 http://127.0.0.1:4566/_localstack/health >/dev/null 2>&1; then
      return
    fi
    [[ -z "$ls_pid" ]] || kill -0 "$ls_pid" 2>/dev/null || break
    sleep 0.5
  done
  [[ -z "$ls_pid" ]] || tail -n 30 "$state/localstack.log" >&2
  log "LocalStack did not become healthy"
  return 1
}

start_localstack() {
  mkdir -p "$cache/fs" "$cache/tmp" "$state"
  if curl -fsS --max-time 2 http://127.0.0.1:4566/_localstack/health >/dev/null 2>&1; then
    log "port 4566 already answers: stop that LocalStack first, the tests must run against this one"
    return 1
  fi
  # The function image does not carry AWS's emulator: the executor plugin mounts the local runs' copy.
  DARKNET_LAMBDA_EMULATOR="$(PYTHONPATH="$root/container/scripts" "$root/.venv/bin/python" -c \
    'from local_lambda import emulator; print(emulator())')"
  export DARKNET_LAMBDA_EMULATOR
  if [[ "$localstack_mode" == compose ]]; then
    compose up -d
    wait_for_localstack
    return
  fi
  localstack_env
  install_lambda_init
  (cd "$cache" && exec "$venv/bin/python" -m localstack.runtime.main) >"$state/localstack.log" 2>&1 &
  ls_pid=$!
  wait_for_localstack
}

stop_localstack() {
  if [[ "$localstack_mode" == compose ]]; then
    compose down --timeout 10 >/dev/null 2>&1 || log "docker compose down failed"
    return
  fi
  [[ -n "$ls_pid" ]] || return 0
  kill -TERM "$ls_pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 "$ls_pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL "$ls_pid" 2>/dev/null || true
  wait "$ls_pid" 2>/dev/null || true
  ls_pid=""
}

remove_function_containers() {
  # LocalStack stops its function containers on shutdown; this catches those a killed run left.
  local ids
  ids="$(docker ps -aq --filter "name=^${container_prefix}-lambda-")"
  if [[ -n "$ids" ]]; then
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null
  fi
}

extract_dog_jpg() {
  # Darknet's own sample picture, as shipped inside the function image.
  local container
  container="$(docker create "$function_image")"
  docker cp "$container:/opt/darknet/data/dog.jpg" "$state/dog.jpg" >/dev/null
  docker rm "$container" >/dev/null
}

deploy() {
  rm -f "$state/deployed.json" "$state/outputs.json"
  deployed=1 # a deployment that fails half-way is destroyed too
  if command -v pulumi >/dev/null 2>&1; then
    (cd "$root" && pulumi up --stack localstack --yes --skip-preview)
    (cd "$root" && pulumi stack output --stack localstack --json) >"$state/outputs.json"
  else
    (cd "$root" && PYTHONPATH="$root/localstack" "$root/.venv/bin/python" -m e2e_harness deploy \
      --state "$state/deployed.json" --outputs "$state/outputs.json" --function-image "$function_image")
  fi
}

destroy() {
  [[ -n "$deployed" ]] || return 0
  if command -v pulumi >/dev/null 2>&1; then
    (cd "$root" && pulumi destroy --stack localstack --yes) || log "pulumi destroy failed"
  elif [[ -f "$state/deployed.json" ]]; then
    (cd "$root" && PYTHONPATH="$root/localstack" "$root/.venv/bin/python" -m e2e_harness destroy \
      --state "$state/deployed.json") || log "destroy failed"
  fi
  deployed=""
}

teardown() {
  local status=$?
  local t
  t=$(date +%s)
  destroy
  stop_localstack
  remove_function_containers
  step "teardown" "$t"
  printf '\n== %s summary ==\n' "$mode"
  printf '%s\n' "${summary[@]}"
  printf '%-28s %4ss  (exit %s)\n' "total" "$(($(date +%s) - started_at))" "$status"
  exit "$status"
}

main() {
  local t
  if [[ ! -x "$root/.venv/bin/python" ]]; then
    log "the project venv .venv is missing: run make (it creates it) before this script"
    exit 1
  fi
  # LocalStack listens on one fixed port: a second harness run on this machine waits for the first.
  local lock_dir="${XDG_CACHE_HOME:-$HOME/.cache}/darknet-lambda"
  mkdir -p "$lock_dir"
  exec {harness_lock}>"$lock_dir/localstack-harness.lock"
  if ! flock --nonblock "$harness_lock"; then
    log "another harness run holds LocalStack's port; waiting for it to finish"
    flock "$harness_lock"
  fi
  trap teardown EXIT
  trap 'exit 130' INT TERM
  t=$(date +%s)
  bash "$root/container/scripts/ensure-docker.sh"
  bash "$root/container/scripts/ensure-base-image.sh"
  step "docker engine + base image" "$t"
  t=$(date +%s)
  if ! docker image inspect "$function_image" >/dev/null 2>&1; then
    log "building $function_image"
    make -C "$root" image
  fi
  step "function image" "$t"
  if [[ "$localstack_mode" == host ]]; then
    t=$(date +%s)
    ensure_localstack_venv
    step "LocalStack venv" "$t"
  fi
  t=$(date +%s)
  remove_function_containers
  start_localstack
  step "LocalStack start" "$t"
  t=$(date +%s)
  deploy
  step "deploy" "$t"
  t=$(date +%s)
  extract_dog_jpg
  export E2E_OUTPUTS="$state/outputs.json" E2E_FUNCTION_IMAGE="$function_image" E2E_DOG_JPG="$state/dog.jpg"
  case "$mode" in
    e2e)
      # shellcheck disable=SC2086
      "$root/.venv/bin/python" -m pytest "$root/tests/e2e" -p no:cacheprovider ${E2E_PYTEST_ARGS:-}
      ;;
    demo)
      PYTHONPATH="$root/localstack" "$root/.venv/bin/python" -m e2e_harness demo \
        --outputs "$state/outputs.json" --image "${IMAGE:-$state/dog.jpg}" --download-dir "$root/out"
      ;;
    *)
      log "unknown mode $mode"
      return 2
      ;;
  esac
  step "$mode" "$t"
}

main
