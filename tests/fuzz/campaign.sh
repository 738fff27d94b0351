#!/usr/bin/env bash
# campaign.sh: the long fuzzing campaign of issue 13, run by hand outside CI (docs/reliability.md).
#
# Every target runs under ASan + UBSan (the -DZTCA_FUZZ=ON build) until it has, summed over all
# invocations, --runs executions or --max-time seconds, whichever comes first. The campaign is
# resumable: totals live in WORK/<target>/state, so a later invocation continues where the last
# one stopped and skips finished targets. --slice caps the seconds one invocation gives each target,
# so that a short session reaches every target instead of spending itself on the first.
#
# One fuzzer process at a time, at nice 19 (the machine is shared; a lock refuses a second
# campaign). Per target: libFuzzer grows WORK/<target>/corpus (it starts from the committed seeds),
# then -merge=1 minimizes it; crashes, leaks, timeouts and OOMs land in WORK/<target>/crashes/ and
# are minimized with -minimize_crash. WORK/<target>/additions/ holds the minimized inputs that add
# coverage features over the committed seeds: the candidates to commit (as content-hash seeds).
#
# usage: tests/fuzz/campaign.sh [--target NAME]... [--runs N] [--max-time S] [--slice S]
#                               [--build DIR] [--work DIR] [--report]
#   --runs N      executions per target, in total         (default 10000000)
#   --max-time S  seconds per target, in total            (default 1800)
#   --slice S     at most S seconds per target this time  (default: no cap)
#   --build DIR   clang build with -DZTCA_FUZZ=ON          (default build-fuzzcamp)
#   --work DIR    scratch corpora, crashes, state, logs   (default /var/tmp/ztca-fuzzcamp)
#   --report      print the totals as a markdown table and stop (docs/reliability.md)
# One summary line per target goes to stdout and WORK/summary.log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
goal_runs=10000000
goal_time=1800
slice=0
build=$top/build-fuzzcamp
work=/var/tmp/ztca-fuzzcamp
targets=()
report=no

# Most exposed first: parsers of unauthenticated network bytes, then authenticated request
# bodies and TPM blobs, then certificates and files an operator hands over.
order=(ocsp_req api_request signer_msg csr verify enroll_request jwt attest_attest attest_signature attest_ak_public
    attest_ek_public authz_request der cert_info cert crl pem config key jwks provisioner store_url
    store_json agent_files ocsp_resp duration trust)

usage() { sed -n '/^# usage/,/^# One summary/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --target) targets+=("$2"); shift 2 ;;
    --runs) goal_runs=$2; shift 2 ;;
    --max-time) goal_time=$2; shift 2 ;;
    --slice) slice=$2; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --work) work=$2; shift 2 ;;
    --report) report=yes; shift ;;
    *) usage ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${order[@]}")
# Targets added after this list still run, last.
for bin in "$build"/tests/fuzz_*; do
    [ -x "$bin" ] || continue
    name=${bin##*/fuzz_}
    [[ " ${order[*]} " == *" $name "* ]] || order+=("$name")
done

report() {
    local t done_runs done_time done_crashes dir files
    echo "| target | executions | exec/s | time (s) | goal | corpus (files, KB) | committed seeds | crashes |"
    echo "|---|---:|---:|---:|---|---:|---:|---:|"
    for t in "${order[@]}"; do
        [[ " ${targets[*]} " == *" $t "* ]] || continue
        dir=$work/$t done_runs=0 done_time=0 done_crashes=0 files=-
        # shellcheck disable=SC1091
        [ -f "$dir/state" ] && . "$dir/state"
        [ -d "$dir/corpus" ] && files="$(find "$dir/corpus" -type f | wc -l), $(du -sk --apparent-size "$dir/corpus" | cut -f1)"
        local goal=no
        { [ "$done_runs" -ge "$goal_runs" ] || [ "$done_time" -ge "$goal_time" ]; } && goal=yes
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$done_runs" \
            "$((done_runs / (done_time > 0 ? done_time : 1)))" "$done_time" "$goal" "$files" \
            "$(find "$here/corpus/$t" -type f | wc -l)" "$done_crashes"
    done
}
[ "$report" = no ] || { report; exit 0; }

mkdir -p "$work"
exec 9>"$work/lock"
flock -n 9 || { echo "campaign.sh: another campaign holds $work/lock" >&2; exit 1; }

# Leaks are findings too; UBSan already aborts (-fno-sanitize-recover=all).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fuzz() { nice -n 19 "$@"; }

stat_of() { # stat_of LOG NAME: a stat:: line of -print_final_stats, or empty
    grep -o "stat::$2: *[0-9]*" "$1" | tail -1 | grep -o '[0-9]*$' || true
}
ft_of() { # ft_of LOG PATTERN: the ft: figure of the last status line matching PATTERN
    grep -E "$2" "$1" | tail -1 | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo 0
}

run_target() {
    local t=$1 bin=$build/tests/fuzz_$1 seeds=$here/corpus/$1 dir=$work/$1
    if [ ! -x "$bin" ]; then
        echo "$t: no binary $bin (configure with CC=clang -DZTCA_FUZZ=ON)" >&2
        return 1
    fi
    mkdir -p "$dir/corpus" "$dir/crashes" "$dir/logs"
    local done_runs=0 done_time=0 done_crashes=0
    # shellcheck disable=SC1091
    [ -f "$dir/state" ] && . "$dir/state"
    if [ "$done_runs" -ge "$goal_runs" ] || [ "$done_time" -ge "$goal_time" ]; then
        echo "$t: done before ($done_runs runs, $done_time s)"
        return 0
    fi
    local runs=$((goal_runs - done_runs)) secs=$((goal_time - done_time))
    [ "$slice" -gt 0 ] && [ "$slice" -lt "$secs" ] && secs=$slice
    local stamp log rc=0 t0 t1
    stamp=$(date +%Y%m%d-%H%M%S)
    log=$dir/logs/$stamp.log
    t0=$(date +%s)
    # The scratch corpus comes first (libFuzzer writes new inputs there); the committed seeds
    # are read as well, so seeds added to the repository since the last run count.
    (cd "$dir" && fuzz "$bin" -runs="$runs" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/crashes/" \
        "$dir/corpus" "$seeds" >"$log" 2>&1) || rc=$?
    t1=$(date +%s)
    local n eps ft0 ft1 crashes=0 c
    n=$(stat_of "$log" number_of_executed_units)
    [ -n "$n" ] || n=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    n=${n:-0}
    eps=$((n / (t1 - t0 > 0 ? t1 - t0 : 1)))
    ft0=$(ft_of "$log" 'INITED')
    ft1=$(ft_of "$log" '^#[0-9]+')
    if [ "$rc" -ne 0 ]; then
        for c in "$dir/crashes"/*; do
            [ -f "$c" ] || continue
            case $c in *.min) continue ;; esac
            [ -f "$c.min" ] && continue
            crashes=$((crashes + 1))
            # The smallest input that still fails, for the named seed and the unit test.
            (cd "$dir" && fuzz "$bin" -minimize_crash=1 -runs=100000 -max_total_time=120 \
                -timeout=10 -exact_artifact_path="$c.min" "$c" \
                >"$dir/logs/$stamp.minimize.log" 2>&1) || true
            [ -f "$c.min" ] || cp "$c" "$c.min"
        done
        [ "$crashes" -gt 0 ] || crashes=1 # it failed without an artifact: still a finding
        tail -40 "$log" >&2
    fi
    # Minimize seeds and finds together: only inputs that add features survive, and the result
    # replaces the scratch corpus.
    rm -rf "$dir/corpus.min" "$dir/additions" "$dir/base"
    mkdir -p "$dir/corpus.min" "$dir/base"
    fuzz "$bin" -merge=1 "$dir/corpus.min" "$seeds" "$dir/corpus" >"$dir/logs/$stamp.merge.log" 2>&1 &&
        rm -rf "$dir/corpus" && mv "$dir/corpus.min" "$dir/corpus"
    # Additions over the committed seeds: merge into a copy of them, keep what is new.
    cp -r "$seeds/." "$dir/base/"
    local added=0 newft=0
    if fuzz "$bin" -merge=1 "$dir/base" "$dir/corpus" >"$dir/logs/$stamp.additions.log" 2>&1; then
        mkdir -p "$dir/additions"
        for c in "$dir/base"/*; do
            [ -e "$seeds/${c##*/}" ] || { mv "$c" "$dir/additions/"; added=$((added + 1)); }
        done
        newft=$(grep -o 'new files with [0-9]* new features' "$dir/logs/$stamp.additions.log" |
            grep -o '[0-9]* new features' | grep -o '[0-9]*' || echo 0)
    fi
    rm -rf "$dir/base"
    done_runs=$((done_runs + n))
    done_time=$((done_time + t1 - t0))
    done_crashes=$((done_crashes + crashes))
    printf 'done_runs=%s\ndone_time=%s\ndone_crashes=%s\n' "$done_runs" "$done_time" \
        "$done_crashes" >"$dir/state"
    local files kb goal=no
    files=$(find "$dir/corpus" -type f | wc -l)
    kb=$(du -sk "$dir/corpus" | cut -f1)
    { [ "$done_runs" -ge "$goal_runs" ] || [ "$done_time" -ge "$goal_time" ]; } && goal=yes
    printf '%s %-17s execs=%s exec/s=%s time=%ss ft=%s->%s crashes=%s | total execs=%s time=%ss crashes=%s goal=%s | corpus=%s files %sK, over seeds +%s files +%s ft\n' \
        "$stamp" "$t" "$n" "$eps" "$((t1 - t0))" "$ft0" "$ft1" "$crashes" "$done_runs" \
        "$done_time" "$done_crashes" "$goal" "$files" "$kb" "$added" "${newft:-0}" |
        tee -a "$work/summary.log"
}

for t in "${targets[@]}"; do
    [[ " ${order[*]} " == *" $t "* ]] || { echo "campaign.sh: no target $t" >&2; exit 2; }
done
status=0
for t in "${order[@]}"; do
    [[ " ${targets[*]} " == *" $t "* ]] || continue
    run_target "$t" || status=1
done
exit $status
