#!/usr/bin/env bash
# Runs every Herald test: go vet, a gofmt check, the dependency rules,
# staticcheck, the separate modules' tests, herald.js's Node tests, `go test
# -race` over the whole module, and a pass without -race of the packages whose
# tests depend most on timing. Installs what the tests need (Debian packages,
# staticcheck) when it is missing.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests drive for real; installed when missing. An entry
# is "command:package" (installed unless the command exists) or "package"
# (installed unless dpkg has it).
packages=(
  chromium:chromium                 # browser tests (web, cmd/herald)
  redis-server:redis-server         # cluster store tests (store/redis, cmd/herald)
  systemd-analyze:systemd           # the systemd unit's check (docs/deploy)
  promtool:prometheus               # the alert rules' checks (docs/monitoring)
  fonts-noto-core fonts-noto-color-emoji fonts-droid-fallback  # screenshots of non-Latin text
)
install_missing() {
  local missing=()
  for entry in "$@"; do
    if [[ $entry == *:* ]]; then
      command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
    else
      dpkg-query -W -f='${Status}' "$entry" 2>/dev/null | grep -q "install ok installed" || missing+=("$entry")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
install_missing "${packages[@]}"

echo "== go vet"
go vet ./...

echo "== gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== dependency rules (sse and eventsource import only the standard library)"
bad=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./sse ./eventsource \
  | grep -v -x -e 'github.com/herald-sse/herald/sse' -e 'github.com/herald-sse/herald/eventsource' || true)
if [ -n "$bad" ]; then
  echo "non-standard imports:"; echo "$bad"; exit 1
fi

echo "== go vet (bench/, the separate comparison module)"
(cd bench && go vet ./...)

echo "== staticcheck (every module)"
staticcheck=$(go env GOPATH)/bin/staticcheck
if ! "$staticcheck" -version 2>/dev/null | grep -q '(0.8.2)'; then
  go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
"$staticcheck" ./...
(cd bench && "$staticcheck" ./...)
(cd docs && "$staticcheck" ./...)

echo "== go vet, go test (docs/: the deployment recipes and the monitoring examples, a separate module)"
(cd docs && go vet ./... && go test -race -timeout 10m ./...)

echo "== herald.js: node --test (web/herald-js; npm ci installs esbuild for the size check)"
(cd web/herald-js && npm ci --no-audit --no-fund --loglevel=error && npm test)

echo "== go test -race"
go test -race -timeout 25m "$@" ./...

echo "== go test, without -race (timing-dependent tests fail here that -race's slowness hides)"
go test -count=1 -timeout 10m "$@" ./hub/ ./mercure/ ./loadgen/ ./eventsource/ ./store/bolt/
