#!/usr/bin/env bash
# Builds the image of deploy/Dockerfile without a container engine, and checks what it would hold.
#
#   bash deploy/check-image.sh [--keep]      (--keep leaves the work folder, printed, to look into)
#   CHECK_IMAGE_DOCKERFILE=other bash deploy/check-image.sh    (another Dockerfile, for its tests)
#
# It reads the Dockerfile rather than repeating its commands, so the two cannot drift apart:
#   1. the build context: the repository filtered by .dockerignore, as Docker filters it;
#   2. every stage, each in a folder of its own and, as BuildKit does, as soon as the stages it
#      needs are done (independent ones side by side): FROM (an earlier stage's files, or an empty
#      folder for a base image), ARG, ENV, WORKDIR, COPY [--from=stage] and RUN, whose commands run
#      with `sh -c` in the stage's folder, with this machine's node and npm;
#   3. checks of the last stage: its dist/ is, file for file, what `tsc -p tsconfig.json` makes of
#      the repository (the dist/ the tests run); it holds only dist/, schemas/, package.json and
#      node_modules/; node_modules holds exactly the lock's production packages, at the lock's
#      versions; and the program starts from it (--check-config loads every module it imports,
#      from that node_modules alone) and finds its ClickHouse schema (services/paths.ts).
# What no engine means it cannot see: the base image's own files (Node.js 24 there, this
# machine's Node.js here), USER, EXPOSE, HEALTHCHECK (test/deploy/image.test.ts runs that one
# against a running process), and the image's layers.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dockerfile=${CHECK_IMAGE_DOCKERFILE:-$repo/deploy/Dockerfile}
keep=false
for arg in "$@"; do
  case $arg in
    --keep) keep=true ;;
    *) echo "usage: bash deploy/check-image.sh [--keep]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/qalqan-check-image.XXXXXX")
case $work/ in "$repo"/*) echo "check-image: the work folder must be outside the repository (TMPDIR=$TMPDIR)" >&2; exit 2 ;; esac
reference_pid=
cleanup() {
  [ -z "$reference_pid" ] || kill "$reference_pid" 2>/dev/null || true
  $keep || rm -rf "$work"
}
trap cleanup EXIT
if $keep; then echo "check-image: work folder $work" >&2; fi
started=$SECONDS

die() { echo "check-image: $*" >&2; exit 1; }
say() { echo "check-image: [$((SECONDS - started)) s] $*" >&2; }

# The file-level helpers, in Node.js: the .dockerignore matcher, the dist/ comparison and the
# node_modules check.
helpers=$(cat <<'JS'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, posix, relative, resolve } from 'node:path'

const [command, ...args] = process.argv.slice(1)
const fail = (message) => { console.error(`check-image: ${message}`); process.exit(1) }

// Docker's .dockerignore rules (moby/patternmatcher): patterns are cleaned paths from the context
// root, * and ? stay within one path segment, ** spans segments, a pattern also matches everything
// under a folder it matches, the last matching pattern wins and ! lets a path back in.
function dockerignore(file) {
  const rules = []
  for (let line of existsSync(file) ? readFileSync(file, 'utf8').split('\n') : []) {
    line = line.trim()
    if (line === '' || line.startsWith('#')) continue
    const include = line.startsWith('!')
    const pattern = posix.normalize(include ? line.slice(1).trim() : line).replace(/^\/+|\/+$/g, '')
    let source = ''
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i]
      if (c === '*' && pattern[i + 1] === '*') {
        source += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*'
        i += pattern[i + 2] === '/' ? 2 : 1
      } else if (c === '*') source += '[^/]*'
      else if (c === '?') source += '[^/]'
      else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
    }
    rules.push({ include, literal: pattern.split(/[*?[]/)[0], regex: new RegExp(`^${source}(?:/.*)?$`) })
  }
  return {
    excluded(path) {
      let excluded = false
      for (const rule of rules) if (rule.regex.test(path)) excluded = !rule.include
      return excluded
    },
    // Whether a ! pattern could let in something under this excluded folder.
    mayInclude(dir) {
      return rules.some((rule) => rule.include && (rule.literal.startsWith(`${dir}/`) || `${dir}/`.startsWith(rule.literal)))
    },
  }
}

function copyContext(from, to) {
  const ignore = dockerignore(join(from, '.dockerignore'))
  let files = 0
  const walk = (rel) => {
    for (const entry of readdirSync(join(from, rel), { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`
      const excluded = ignore.excluded(path)
      if (entry.isDirectory()) {
        if (!excluded || ignore.mayInclude(path)) walk(path)
      } else if (!excluded) {
        mkdirSync(dirname(join(to, path)), { recursive: true })
        cpSync(join(from, path), join(to, path), { verbatimSymlinks: true })
        files++
      }
    }
  }
  walk('')
  console.log(files)
}

function listFiles(root) {
  const files = []
  const walk = (rel) => {
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (entry.isDirectory()) walk(path)
      else files.push(path)
    }
  }
  walk('')
  return files.sort()
}

// A source map names its sources relative to itself, so the two builds' maps differ by where the
// folders lie; compare them with their sources resolved against each build's own project folder.
function normalized(file, projectRoot) {
  const text = readFileSync(file, 'utf8')
  if (!file.endsWith('.map')) return text
  const map = JSON.parse(text)
  map.sources = map.sources.map((source) => relative(projectRoot, resolve(dirname(file), map.sourceRoot ?? '', source)))
  return JSON.stringify(map)
}

function compareDist(imageDist, imageRoot, referenceDist, referenceRoot) {
  const image = listFiles(imageDist)
  const reference = listFiles(referenceDist)
  const missing = reference.filter((file) => !image.includes(file))
  const extra = image.filter((file) => !reference.includes(file))
  const differing = reference
    .filter((file) => image.includes(file))
    .filter((file) => normalized(join(imageDist, file), imageRoot) !== normalized(join(referenceDist, file), referenceRoot))
  const first = (files, what) => [
    ...files.slice(0, 8).map((file) => `${what}: dist/${file}`),
    ...(files.length > 8 ? [`${what}: ${files.length - 8} more`] : []),
  ]
  const problems = [...first(differing, 'differs'), ...first(missing, 'missing from the image'), ...first(extra, 'only in the image')]
  if (problems.length > 0) fail(`the image's dist/ is not the one the tests run:\n  ${problems.join('\n  ')}`)
  console.log(reference.length)
}

// node_modules/.package-lock.json is npm's record of what it installed; the repository's lock
// marks what only development (dev) or only an optional feature (optional, devOptional) needs.
function checkModules(lockFile, modulesDir) {
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')).packages
  const installedLock = join(modulesDir, '.package-lock.json')
  if (!existsSync(installedLock)) fail(`${installedLock} is missing: node_modules was not installed by npm`)
  const installed = JSON.parse(readFileSync(installedLock, 'utf8')).packages
  const production = Object.keys(lock).filter((key) => key !== '' && !lock[key].dev && !lock[key].optional && !lock[key].devOptional)
  const problems = []
  for (const key of production) if (!(key in installed)) problems.push(`missing: ${key}`)
  for (const [key, entry] of Object.entries(installed)) {
    const locked = lock[key]
    if (locked === undefined) problems.push(`not in the lock: ${key}`)
    else if (locked.dev || locked.optional || locked.devOptional) problems.push(`not a production package: ${key}`)
    else if (locked.version !== entry.version) problems.push(`${key} is ${entry.version}, the lock says ${locked.version}`)
    else if (!existsSync(join(dirname(modulesDir), key, 'package.json'))) problems.push(`recorded but absent: ${key}`)
  }
  if (problems.length > 0) fail(`node_modules is not the lock's production set:\n  ${problems.slice(0, 20).join('\n  ')}`)
  console.log(production.length)
}

if (command === 'context') copyContext(...args)
else if (command === 'compare-dist') compareDist(...args)
else if (command === 'check-modules') checkModules(...args)
else fail(`unknown helper ${command}`)
JS
)
helper() { node --input-type=module --eval "$helpers" "$@"; }

# The reference, meanwhile: the repository compiled as the tests compile it, into the work folder.
(cd "$repo" && exec npx tsc -p tsconfig.json --outDir "$work/reference/dist") >"$work/reference.log" 2>&1 &
reference_pid=$!

# 1. The build context.
context_files=$(helper context "$repo" "$work/context")
say "build context: $context_files files (.dockerignore)"

# 2. The stages. The Dockerfile's logical lines: comments dropped (inside continuations too, as
# Docker does), continuation lines joined.
instructions() {
  awk '
    /^[[:space:]]*#/ { next }
    pending != "" && /^[[:space:]]*$/ { next }
    { line = pending $0 }
    /\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, "", line); pending = line; next }
    { if (line ~ /[^[:space:]]/) print line; pending = "" }
  ' "$1"
}

declare -A global_args=() stage_of_name=()
stages=0

# ${NAME} and $NAME from the global ARGs: only FROM lines use them.
expand() {
  local rest=$1 out=''
  while [[ $rest =~ ^([^\$]*)\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?(.*)$ ]]; do
    out+=${BASH_REMATCH[1]}${global_args[${BASH_REMATCH[2]}]-}
    rest=${BASH_REMATCH[3]}
  done
  printf '%s' "$out$rest"
}

# First pass: each stage's instructions into a file of its own, and the stages it needs (its base,
# and what it copies --from), so that the stages can run as BuildKit runs them: each as soon as
# those it needs are done, independent ones side by side.
while IFS= read -r line; do
  keyword=${line%%[[:space:]]*}
  args=${line#"$keyword"}
  args=${args#"${args%%[![:space:]]*}"}
  keyword=${keyword^^}
  if [ "$keyword" = FROM ]; then
    read -r -a words <<<"$args"
    [ "${words[0]}" != "${words[0]#--platform=}" ] && words=("${words[@]:1}")
    image=$(expand "${words[0]}")
    name=$stages
    if [ "${#words[@]}" -eq 3 ] && [ "${words[1]^^}" = AS ]; then name=${words[2]}; fi
    : >"$work/stage-$stages.steps"
    : >"$work/stage-$stages.needs"
    echo "$name" >"$work/stage-$stages.name"
    if [ -n "${stage_of_name[$image]-}" ]; then
      echo "${stage_of_name[$image]}" >"$work/stage-$stages.parent"
      echo "${stage_of_name[$image]}" >>"$work/stage-$stages.needs"
    else
      echo "$image" >"$work/stage-$stages.image"
    fi
    stage_of_name[$name]=$stages
    stages=$((stages + 1))
  elif [ "$stages" -eq 0 ]; then
    [ "$keyword" = ARG ] || die "$keyword before the first FROM"
    [[ $args =~ ^([A-Za-z_][A-Za-z0-9_]*)(=(.*))?$ ]] || die "cannot read: ARG $args"
    global_args[${BASH_REMATCH[1]}]=${BASH_REMATCH[3]}
  else
    printf '%s\n' "$line" >>"$work/stage-$((stages - 1)).steps"
    if [ "$keyword" = COPY ] && [[ $args =~ (^|[[:space:]])--from=([^[:space:]]+) ]]; then
      from=${BASH_REMATCH[2]}
      [ -n "${stage_of_name[$from]-}" ] || die "COPY --from=$from: not an earlier stage (copying from an image is not mirrored)"
      echo "${stage_of_name[$from]}" >>"$work/stage-$((stages - 1)).needs"
    fi
  fi
done < <(instructions "$dockerfile")
[ "$stages" -gt 0 ] || die "no FROM in $dockerfile"

# Second pass: one stage, in a subshell of its own, in its own folder.
run_stage() {
  local stage=$1 name root workdir envfile
  name=$(cat "$work/stage-$stage.name")
  root=$work/stage-$stage
  envfile=$work/stage-$stage.env
  mkdir -p "$root"
  if [ -f "$work/stage-$stage.parent" ]; then
    local parent
    parent=$(cat "$work/stage-$stage.parent")
    cp -a "$work/stage-$parent/." "$root/"
    cp "$work/stage-$parent.env" "$envfile"
    workdir=$(cat "$work/stage-$parent.workdir")
    say "stage $name: from stage $(cat "$work/stage-$parent.name")"
  else
    : >"$envfile"
    workdir=/
    say "stage $name: from image $(cat "$work/stage-$stage.image") (its files are not mirrored: this machine's node and npm stand in)"
  fi

  absolute() { # a path of the stage, made absolute against WORKDIR
    case $1 in
      /*) printf '%s' "$1" ;;
      *) printf '%s' "${workdir%/}/$1" ;;
    esac
  }
  copy_into() { # source (a path on this machine), destination (in the stage), whether it is a folder
    local source=$1 dest=$2 into_folder=$3
    if [ -d "$source" ]; then
      mkdir -p "$root$dest"
      cp -a "$source/." "$root$dest/"
    elif $into_folder; then
      mkdir -p "$root$dest"
      cp -a "$source" "$root$dest/"
    else
      mkdir -p "$(dirname "$root$dest")"
      cp -a "$source" "$root$dest"
    fi
  }

  local line keyword args step=0
  while IFS= read -r line; do
    keyword=${line%%[[:space:]]*}
    args=${line#"$keyword"}
    args=${args#"${args%%[![:space:]]*}"}
    keyword=${keyword^^}
    case $keyword in
      ARG)
        [[ $args =~ ^([A-Za-z_][A-Za-z0-9_]*)(=(.*))?$ ]] || die "cannot read: ARG $args"
        printf 'export %s=%q\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[3]:-${global_args[${BASH_REMATCH[1]}]-}}" >>"$envfile"
        ;;
      WORKDIR)
        [[ $args == *\$* ]] && die "variables in WORKDIR are not mirrored: $args"
        workdir=$(absolute "$args")
        mkdir -p "$root$workdir"
        ;;
      ENV)
        [[ $args == *\$* ]] && die "variables in ENV are not mirrored: $args"
        local rest=$args value
        while [ -n "$rest" ]; do
          [[ $rest =~ ^([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|[^[:space:]\"]*)[[:space:]]*(.*)$ ]] || die "cannot read (write ENV NAME=value ...): ENV $args"
          value=${BASH_REMATCH[2]}
          value=${value#\"}
          value=${value%\"}
          printf 'export %s=%q\n' "${BASH_REMATCH[1]}" "$value" >>"$envfile"
          rest=${BASH_REMATCH[3]}
        done
        ;;
      COPY)
        [[ $args == \[* ]] && die "COPY in JSON form is not mirrored: $args"
        [[ $args == *\$* || $args == *'<<'* ]] && die "variables and here-documents in COPY are not mirrored: $args"
        local words=() from='' paths=() word
        read -r -a words <<<"$args"
        for word in "${words[@]}"; do
          case $word in
            --from=*) from=${word#--from=} ;;
            --chown=* | --chmod=* | --link) ;;
            --*) die "COPY option not mirrored: $word" ;;
            *) paths+=("$word") ;;
          esac
        done
        [ "${#paths[@]}" -ge 2 ] || die "COPY needs a source and a destination: $args"
        local dest_word=${paths[-1]} sources=("${paths[@]:0:${#paths[@]}-1}") source_root dest into_folder=false source matches match
        if [ -n "$from" ]; then source_root=$work/stage-${stage_of_name[$from]}; else source_root=$work/context; fi
        dest=$(absolute "$dest_word")
        if [ "${#sources[@]}" -gt 1 ] || [[ $dest_word == */ ]]; then into_folder=true; fi
        for source in "${sources[@]}"; do
          source=${source#/}
          matches=$(cd "$source_root" && compgen -G "${source%/}" || true)
          [ -n "$matches" ] || die "COPY $args: $source is not in the ${from:+stage $from}${from:-build context} (.dockerignore?)"
          while IFS= read -r match; do
            copy_into "$source_root/$match" "$dest" "$into_folder"
          done <<<"$matches"
        done
        ;;
      RUN)
        [[ $args == \[* ]] && die "RUN in JSON form is not mirrored: $args"
        local command=$args log
        while [[ $command =~ ^--[a-z-]+=[^[:space:]]*[[:space:]]+(.*)$ ]]; do command=${BASH_REMATCH[1]}; done
        step=$((step + 1))
        log=$work/stage-$stage.run-$step.log
        say "stage $name: RUN $command"
        # npm's cache here stands in for the image's cache mount: prefer it over asking the registry.
        if ! (cd "$root$workdir" && . "$envfile" && unset NODE_PATH && export npm_config_prefer_offline=true && exec sh -c "$command") >"$log" 2>&1; then
          tail -n 30 "$log" >&2
          die "stage $name: RUN failed: $command"
        fi
        ;;
      LABEL | USER | EXPOSE | HEALTHCHECK | ENTRYPOINT | CMD | STOPSIGNAL | VOLUME) ;;
      *) die "$keyword is not mirrored: extend deploy/check-image.sh or keep the Dockerfile to ARG, FROM, WORKDIR, ENV, COPY and RUN" ;;
    esac
  done <"$work/stage-$stage.steps"
  echo "$workdir" >"$work/stage-$stage.workdir"
}

declare -A stage_pid=() stage_done=()
while [ "${#stage_done[@]}" -lt "$stages" ]; do
  for ((n = 0; n < stages; n++)); do
    [ -z "${stage_pid[$n]-}" ] && [ -z "${stage_done[$n]-}" ] || continue
    ready=true
    while IFS= read -r need; do [ -n "${stage_done[$need]-}" ] || ready=false; done <"$work/stage-$n.needs"
    if $ready; then
      run_stage "$n" &
      stage_pid[$n]=$!
    fi
  done
  [ "${#stage_pid[@]}" -gt 0 ] || die "the stages wait on each other"
  finished=
  status=0
  wait -n -p finished "${stage_pid[@]}" || status=$?
  for n in "${!stage_pid[@]}"; do
    [ "${stage_pid[$n]}" = "$finished" ] || continue
    unset "stage_pid[$n]"
    if [ "$status" -ne 0 ]; then
      # let the stages still running finish before their folders are removed
      for pid in "${stage_pid[@]}"; do wait "$pid" || true; done
      die "stage $(cat "$work/stage-$n.name") failed"
    fi
    stage_done[$n]=1
  done
done
stage=$((stages - 1))
root=$work/stage-$stage
workdir=$(cat "$work/stage-$stage.workdir")
app=$root$workdir

# 3. The checks of the last stage.
reference_status=0
wait "$reference_pid" || reference_status=$?
reference_pid=
[ "$reference_status" -eq 0 ] || {
  tail -n 30 "$work/reference.log" >&2
  die "tsc -p tsconfig.json failed on the repository"
}
[ -d "$app/dist" ] || die "the image has no $workdir/dist"
dist_files=$(helper compare-dist "$app/dist" "$app" "$work/reference/dist" "$repo")

layout=$(cd "$app" && ls -A | tr '\n' ' ')
[ "$layout" = "dist node_modules package.json schemas " ] || die "the image's $workdir holds [$layout], not [dist node_modules package.json schemas]"
[ -n "$(compgen -G "$app/schemas/clickhouse/*.sql")" ] || die "the image has no $workdir/schemas/clickhouse/*.sql"
packages=$(helper check-modules "$repo/package-lock.json" "$app/node_modules")

# The program from the image's folder alone: a work folder outside the repository, so no module
# can resolve from the repository's node_modules.
runtime_env=(env -i "PATH=$PATH" "HOME=$work" NODE_ENV=production
  QALQAN_ROLE=collector,worker,query QALQAN_TOKENS_FILE=/etc/qalqan/tokens.json
  QALQAN_KAFKA_BROKERS=kafka:9092 QALQAN_CLICKHOUSE_URL=http://clickhouse:8123)
(cd "$app" && "${runtime_env[@]}" node dist/services/main.js --check-config) >"$work/check-config.log" 2>&1 || {
  cat "$work/check-config.log" >&2
  die "the program does not start from the image's folder"
}
schema_check=$(cd "$app" && "${runtime_env[@]}" node --input-type=module --eval "
  const { PROJECT_ROOT } = await import('./dist/services/paths.js')
  const { readMigrations } = await import('./dist/services/clickhouse/client.js')
  console.log(PROJECT_ROOT === process.cwd() ? readMigrations().length : 'PROJECT_ROOT=' + PROJECT_ROOT)
" 2>&1) || die "the program cannot read its ClickHouse schema: $schema_check"
[[ $schema_check =~ ^[1-9][0-9]*$ ]] || die "the program finds its folder elsewhere than $workdir: $schema_check"

size=$(du -sh "$app" | cut -f1)
say "dist/: $dist_files files, the same as tsc's; node_modules: the lock's $packages production packages; schema: $schema_check migration files; $workdir: $size besides the base image"
echo "check-image: OK in $((SECONDS - started)) s"
