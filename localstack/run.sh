#!/usr/bin/env bash
# The offline LocalStack harness: set up everything from a fresh machine, deploy the Pulumi
# program to LocalStack Community (host mode, from PyPI), and either run the end-to-end tests and
# tear everything down whatever happens, or leave the stack running for people and their clients.
#
#   bash localstack/run.sh e2e     # deploy, tests/e2e against the stack, tear down
#   bash localstack/run.sh up      # deploy and leave it running; writes the outputs file the command reads
#   bash localstack/run.sh down    # tear down what `up` left running
#   bash localstack/run.sh venv    # only LocalStack's virtualenv, which e2e and up make when it is missing
#
# Environment: IMAGE_TAG (the Lambda image tag, default the default model's, as `make image`
# builds it), E2E_PYTEST_ARGS (extra pytest arguments), LOCALSTACK_MODE (host: LocalStack Community
# from PyPI, offline, the default; compose: docker-compose.yml).
set -euo pipefail

mode="${1:?usage: run.sh e2e|up|down|venv}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache/localstack"
venv="$root/.cache/localstack-venv"
state="$cache/run"
# The default is `make image`'s tag of the default model, as the contract names it.
function_image="${IMAGE_TAG:-$(PYTHONPATH="$root/container" python3 -m darknet_detector.contract image-tag)}"
localstack_version="2026.3.0"
localstack_python="3.13"
started_at=$(date +%s)
localstack_mode="${LOCALSTACK_MODE:-host}"
container_prefix="darknet-e2e"
endpoint="http://127.0.0.1:4566"
# The LocalStack this checkout started (its pid; kept for `down`) and, while `up` left a stack
# running, the id of the function image it deployed.
pid_file="$state/localstack.pid"
up_file="$state/up-image-id"
# LocalStack listens on one fixed port for the whole machine: one lock, and a note of which
# checkout's `make up` holds the port, so that other runs can say where to run `make down`.
lock_dir="${XDG_CACHE_HOME:-$HOME/.cache}/darknet-lambda"
owner_file="$lock_dir/localstack-up"
ls_pid=""
started=""
deployed=""
keep_up=""
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

port_answers() { curl -fsS --max-time 2 "$endpoint/_localstack/health" >/dev/null 2>&1; }

alive() {
  # A running (not zombie) LocalStack of ours: the pid alone could have been reused.
  [[ -n "$1" ]] && grep -qs 'localstack.runtime.main' "/proc/$1/cmdline" && ! grep -qs '^[0-9]* ([^)]*) Z' "/proc/$1/stat"
}

wait_for_localstack() {
  for _ in $(seq 1 240); do
    if port_answers; then
      return
    fi
    [[ -z "$ls_pid" ]] || alive "$ls_pid" || break
    sleep 0.5
  done
  [[ -z "$ls_pid" ]] || tail -n 30 "$state/localstack.log" >&2
  log "LocalStack did not become healthy"
  return 1
}

refuse_if_port_taken() {
  # Checked before anything is removed: function containers and the port may belong to a stack
  # that `make up` (here or in another checkout) left running.
  port_answers || return 0
  local owner
  owner="$(cat "$owner_file" 2>/dev/null || true)"
  if [[ "$owner" == "$root" ]]; then
    log "a local stack is up (make up): run make down first, then make $mode"
  elif [[ -n "$owner" ]]; then
    log "a local stack is up (make up in $owner): run make down there first, then make $mode"
  else
    log "port 4566 already answers (a LocalStack not started by make up, or another harness run): stop it first"
  fi
  exit 2
}

start_localstack() {
  mkdir -p "$cache/fs" "$cache/tmp" "$state"
  started=1
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
  # Detached and with none of this script's files open (the harness lock included): `up` leaves it running.
  : >"$state/localstack.log"
  ls_pid="$(python3 "$root/container/scripts/detach.py" --log "$state/localstack.log" --cwd "$cache" -- \
    "$venv/bin/python" -m localstack.runtime.main)"
  echo "$ls_pid" >"$pid_file"
  wait_for_localstack
}

stop_localstack() {
  if [[ "$localstack_mode" == compose ]]; then
    compose down --timeout 10 >/dev/null 2>&1 || log "docker compose down failed"
    return
  fi
  if alive "$ls_pid"; then
    kill -TERM "$ls_pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      alive "$ls_pid" || break
      sleep 0.5
    done
    ! alive "$ls_pid" || kill -KILL "$ls_pid" 2>/dev/null || true
  fi
  ls_pid=""
  rm -f "$pid_file"
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

function_image_id() { docker image inspect -f '{{.Id}}' "$function_image"; }

deploy() {
  rm -f "$state/deployed.json" "$state/outputs.json"
  deployed=1 # a deployment that fails half-way is destroyed too
  if command -v pulumi >/dev/null 2>&1; then
    (cd "$root" && pulumi up --stack localstack --yes --skip-preview)
    (cd "$root" && pulumi stack output --stack localstack --json) >"$state/outputs.json"
  else
    local tests_only=()
    if [[ "$mode" == e2e ]]; then
      tests_only=(--auth-apis)
    fi
    (cd "$root" && PYTHONPATH="$root/localstack" "$root/.venv/bin/python" -m e2e_harness deploy \
      --state "$state/deployed.json" --outputs "$state/outputs.json" --function-image "$function_image" \
      "${tests_only[@]}")
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
  rm -f "$state/deployed.json" "$state/outputs.json"
  deployed=""
}

local_stack() { PYTHONPATH="$root/localstack" "$root/.venv/bin/python" -m e2e_harness.local_stack "$@"; }

summarise() {
  printf '\n== %s summary ==\n' "$mode"
  printf '%s\n' "${summary[@]}"
  printf '%-28s %4ss  (exit %s)\n' "total" "$(($(date +%s) - started_at))" "$1"
}

teardown() {
  local status=$?
  local t
  if [[ -z "$keep_up" && -n "$started" ]]; then
    t=$(date +%s)
    destroy
    stop_localstack
    remove_function_containers
    step "teardown" "$t"
  fi
  [[ ${#summary[@]} -eq 0 ]] || summarise "$status"
  exit "$status"
}

take_harness_lock() {
  # LocalStack listens on one fixed port: a second harness run on this machine waits for the first.
  mkdir -p "$lock_dir" "$state"
  exec {harness_lock}>"$lock_dir/localstack-harness.lock"
  if ! flock --nonblock "$harness_lock"; then
    local t
    t=$(date +%s)
    log "another harness run holds LocalStack's port; waiting for it to finish"
    flock "$harness_lock"
    step "waiting for the port" "$t"
  fi
}

is_up() {
  # This checkout's `up` stack still runs: its LocalStack answers and deployed what up_file names.
  [[ -f "$up_file" && -f "$state/deployed.json" ]] || return 1
  if [[ "$localstack_mode" == host ]]; then
    alive "$(cat "$pid_file" 2>/dev/null)" || return 1
  fi
  port_answers
}

forget_up_stack() {
  rm -f "$up_file" "$state/deployed.json" "$state/outputs.json" "$pid_file"
  if [[ "$(cat "$owner_file" 2>/dev/null)" == "$root" ]]; then
    rm -f "$owner_file"
    local_stack remove
  fi
}

down() {
  local t
  t=$(date +%s)
  if [[ "$localstack_mode" == host ]]; then
    ls_pid="$(cat "$pid_file" 2>/dev/null || true)"
    alive "$ls_pid" || ls_pid=""
  fi
  if [[ -z "$ls_pid" && ! -f "$up_file" ]]; then
    forget_up_stack
    local owner
    owner="$(cat "$owner_file" 2>/dev/null || true)"
    if [[ -n "$owner" ]] && port_answers; then
      echo "nothing is up from this checkout (the local stack on port 4566 is make up's in $owner)"
    else
      echo "nothing is up"
    fi
    return 0
  fi
  # With LocalStack gone its resources went with it: only the state files are left to forget.
  if [[ -n "$ls_pid" || "$localstack_mode" == compose ]] && [[ -f "$state/deployed.json" ]]; then
    deployed=1
    destroy
  fi
  stop_localstack
  port_answers || remove_function_containers # not those of a stack another checkout started since
  forget_up_stack
  echo "the local stack is down ($(($(date +%s) - t)) s)"
}

up_again() {
  # Second `make up`: the same function image leaves the stack as it is; a rebuilt one is redeployed
  # (new bucket and API: the outputs file is rewritten), since the function must run the new code.
  if [[ "$(function_image_id)" == "$(cat "$up_file")" ]]; then
    echo "the local stack is already up (make down stops it)"
    local_stack show --function-image "$function_image"
    return
  fi
  log "$function_image changed since make up deployed it: redeploying"
  deployed=1
  destroy
  remove_function_containers
  deploy
  function_image_id >"$up_file"
  local_stack publish --outputs "$state/outputs.json" --state "$state/deployed.json" --function-image "$function_image"
}

prepare() {
  # Docker engine, base and function images, LocalStack's venv: each step cached and idempotent.
  local t
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
}

main() {
  local t
  if [[ "$mode" == venv ]]; then
    [[ "$localstack_mode" != host ]] || ensure_localstack_venv
    return
  fi
  if [[ ! -x "$root/.venv/bin/python" ]]; then
    log "the project venv .venv is missing: run make (it creates it) before this script"
    exit 1
  fi
  case "$mode" in e2e | up | down) ;; *)
    log "unknown mode $mode (e2e, up, down or venv)"
    exit 2
    ;;
  esac
  take_harness_lock
  if [[ "$mode" == down ]]; then
    down
    return
  fi
  if [[ "$mode" == up ]] && is_up; then
    up_again
    return
  fi
  trap teardown EXIT
  trap 'exit 130' INT TERM
  refuse_if_port_taken
  [[ "$mode" != up ]] || forget_up_stack # what a LocalStack that died left behind
  prepare
  t=$(date +%s)
  remove_function_containers
  start_localstack
  step "LocalStack start" "$t"
  t=$(date +%s)
  deploy
  step "deploy" "$t"
  if [[ "$mode" == up ]]; then
    function_image_id >"$up_file"
    echo "$root" >"$owner_file"
    keep_up=1
    summarise 0
    summary=()
    local_stack publish --outputs "$state/outputs.json" --state "$state/deployed.json" --function-image "$function_image"
    return
  fi
  t=$(date +%s)
  extract_dog_jpg
  export E2E_OUTPUTS="$state/outputs.json" E2E_FUNCTION_IMAGE="$function_image" E2E_DOG_JPG="$state/dog.jpg"
  # shellcheck disable=SC2086
  "$root/.venv/bin/python" -m pytest "$root/tests/e2e" -p no:cacheprovider -m "not local_stack" ${E2E_PYTEST_ARGS:-}
  step "$mode" "$t"
}

main
