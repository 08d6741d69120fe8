#!/usr/bin/env bash
# fuzz.sh [FUZZTIME [PACKAGES...]]: run every fuzz target of every package
# (default ./...) for FUZZTIME (default 10s), then print a table of what each
# one did. Exits non-zero if any target failed; go writes the failing input
# to the package's testdata/fuzz/<target>/ directory: fix the bug, keep the
# input there.
#
# FUZZMINIMIZE (default 100x) bounds how long go minimizes each new input:
# its default, 60s per input, spends a short run minimizing one large input
# and hardly fuzzing at all. FUZZPARALLEL (default 2) is the number of
# fuzzing workers, one per core of the machines we run on.
#
# Go keeps the inputs that found new coverage in its cache and re-runs them
# all before fuzzing; when that eats a short run, `go clean -fuzzcache`.
set -uo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-10s}
shift $(($# > 0))
minimize=${FUZZMINIMIZE:-100x}
parallel=${FUZZPARALLEL:-2}
module=$(go list -m)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# seconds turns go's rounded elapsed time (3s, 1m0s, 1h2m3s) into seconds.
seconds() {
	local d=$1 h=0 m=0 s=0
	[[ $d =~ ([0-9]+)h ]] && h=${BASH_REMATCH[1]}
	[[ $d =~ ([0-9]+)m ]] && m=${BASH_REMATCH[1]}
	[[ $d =~ ([0-9]+)s ]] && s=${BASH_REMATCH[1]}
	echo $((h * 3600 + m * 60 + s))
}

# deadline_race LOG TARGET: go before 1.27 can fail a target that found
# nothing as -fuzztime ends (golang/go#75804): "context deadline exceeded"
# is the only failure and no input was written.
deadline_race() {
	grep -A1 -x -- "--- FAIL: $2 ([0-9.]*s)" "$1" | tail -n 1 | grep -qx '    context deadline exceeded' &&
		! grep -qE 'Failing input written|failure while testing seed corpus|^panic:' "$1"
}

rows=()
failed=0
pkgs=$(go list "${@:-./...}") || exit 1
for pkg in $pkgs; do
	short=${pkg#"$module"/}
	[[ $pkg == "$module" ]] && short=.
	if ! list=$(go test -list '^Fuzz' "$pkg" 2>&1); then
		echo "$list"
		rows+=("$short|-|-|-|-|-|-|build failed")
		failed=1
		continue
	fi
	for target in $(grep '^Fuzz' <<<"$list"); do
		log=$logs/$(tr / _ <<<"$short").$target
		echo "== fuzz $short $target"
		go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" \
			-parallel "$parallel" "$pkg" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		execs=0 new=- corpus=- rate=0 status=ok
		last=$(grep -E '^fuzz: elapsed: [^,]+, execs: ' "$log" | tail -n 1)
		re='^fuzz: elapsed: ([^,]+), execs: ([0-9]+) \([0-9]+/sec\)(, new interesting: ([0-9]+) \(total: ([0-9]+)\))?'
		if [[ $last =~ $re ]]; then
			execs=${BASH_REMATCH[2]}
			new=${BASH_REMATCH[4]:--}
			corpus=${BASH_REMATCH[5]:--}
			secs=$(seconds "${BASH_REMATCH[1]}")
			# The rate go prints is that of the last interval (0/sec at
			# the end); the table gives the mean over the run.
			rate=$((execs / (secs > 0 ? secs : 1)))
		elif base=$(grep -oE 'baseline coverage: [0-9]+/[0-9]+' "$log" | tail -n 1); then
			# FUZZTIME ran out while go re-ran the corpus it keeps.
			status="ok, only ${base#baseline coverage: } of the corpus re-run"
		fi
		if ((rc != 0)) && deadline_race "$log" "$target"; then
			# Nothing was found; the seeds and kept inputs must still pass.
			echo "== $target: go's deadline race (golang/go#75804); replaying its corpus"
			if go test -run "^$target\$" "$pkg"; then
				rc=0 status="ok (go#75804)"
			fi
		fi
		if ((rc != 0)); then
			failed=1
			status=FAIL
			input=$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | tail -n 1)
			[[ -n $input ]] && status="FAIL $short/$input"
		fi
		load=$(cut -d' ' -f1 /proc/loadavg)
		rows+=("$short|$target|$execs|$new|$corpus|$rate|$load|$status")
	done
done

echo
# new: inputs with new coverage found in this run; corpus: the inputs go
# keeps for the target (seeds, testdata/fuzz and its cache, see above); load:
# the 1-minute load average as the target ended, about 2 of it our fuzzing.
echo "fuzztime $fuzztime, minimize $minimize, $parallel workers"
format='%-20s %-20s %10s %5s %6s %8s %5s  %s\n'
printf "$format" package target execs new corpus execs/s load status
for row in "${rows[@]}"; do
	IFS='|' read -r p t e n c r l s <<<"$row"
	printf "$format" "$p" "$t" "$e" "$n" "$c" "$r" "$l" "$s"
done
exit "$failed"
