#!/usr/bin/env bash
# The demo: `make up`, then the darknet-lambda command's verbs as a person types them, each shown
# before it runs, then `make down` whatever happened. A stack this checkout already had up is used
# as it is and left up.
#
#   bash localstack/demo.sh        # IMAGE=path (default: Darknet's dog.jpg, copied out of the function image)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The default is `make image`'s tag of the default model, as the contract names it.
function_image="${IMAGE_TAG:-$(PYTHONPATH="$root/container" python3 -m darknet_detector.contract image-tag)}"
work="$root/out/demo"
export PATH="$root/.venv/bin:$PATH"

run() {
  printf '\n$ %s\n' "$*"
  "$@"
}

timed() {
  local started status=0
  started=$(date +%s)
  "$@" || status=$?
  printf '(%s s)\n' "$(($(date +%s) - started))"
  return "$status"
}

main() {
  local source=""
  if [[ -n "${IMAGE:-}" ]]; then
    source="$(realpath "$IMAGE")"
    [[ -f "$source" ]] || { echo "demo: IMAGE=$IMAGE is not a file" >&2; exit 2; }
  fi
  if [[ -f "$root/.cache/localstack/run/up-image-id" ]] && bash "$root/localstack/run.sh" up; then
    echo "(the local stack was up before the demo: it stays up; make down stops it)"
  else
    trap 'printf "\n$ make down\n"; bash "$root/localstack/run.sh" down' EXIT
    printf '$ make up\n'
    bash "$root/localstack/run.sh" up
  fi

  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  local image
  if [[ -n "$source" ]]; then
    image="$(basename "$source")"
    cp "$source" "$image"
  else
    image=dog.jpg
    local container
    container="$(docker create "$function_image")"
    docker cp "$container:/opt/darknet/data/dog.jpg" "$image" >/dev/null
    docker rm "$container" >/dev/null
  fi
  echo
  echo "In $work, with the stack that make up wrote to the outputs file:"
  timed run darknet-lambda put "$image" --wait
  timed run darknet-lambda invoke "$image"
  timed run darknet-lambda invoke "$image" -o result.tar.gz
  timed run tar -tzf result.tar.gz
  timed run darknet-lambda invoke -a --wait "$image"
  timed run darknet-lambda ls
  timed run darknet-lambda get --all --dir results
  timed run darknet-lambda status
  timed run darknet-lambda logs --since 5m
}

main
