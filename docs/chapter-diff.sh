#!/usr/bin/env bash
# What each chapter adds to the ones before it: the public names its header
# declares, the earlier chapters' functions its code calls, and its size.
# Chapters never copy earlier code, so a raw diff of two chapter files
# would compare unrelated text; this report is what `make diffs` shows.
#
#   docs/chapter-diff.sh OUTDIR chapters/01-*.c chapters/02-*.c ...
set -euo pipefail
out=$1; shift
mkdir -p "$out"

# Public function and type names declared in a header.
declared() {
    sed -n -E 's/^[A-Za-z_][A-Za-z0-9_ *]*[ *]([a-z_][a-z0-9_]*)\(.*/\1/p; s/^typedef struct ([A-Za-z0-9_]+).*/\1/p' "$1" | sort -u
}

earlier=()
for c in "$@"; do
    name=$(basename "$c" .c)
    h=${c%.c}.h
    report=$out/$name.md
    {
        echo "# What ${name} adds"
        echo
        echo "Source: \`$c\` ($(wc -l < "$c") lines, $(grep -c '^/\*\*' "$c") prose blocks) and \`$h\`."
        echo
        echo "## New public names (from \`$h\`)"
        echo
        declared "$h" | sed 's/^/- `/; s/$/`/'
        if [ ${#earlier[@]} -gt 0 ]; then
            echo
            echo "## Earlier chapters' functions it uses"
            echo
            for e in "${earlier[@]}"; do
                used=$(for f in $(declared "${e%.c}.h"); do grep -qw "$f" "$c" && echo "$f"; done | tr '\n' ' ')
                [ -n "$used" ] && echo "- from \`$(basename "$e")\`: $used"
            done
        fi
    } > "$report"
    lines=$(wc -l < "$c")  # the program half: #ifndef EMB_LIBRARY ... #endif
    prog=$(awk '/^#ifndef EMB_LIBRARY/ {p = 1} p {n++} /^#endif  \/\/ EMB_LIBRARY/ {p = 0}
                END {print n + 0}' "$c")
    echo "$report: $(declared "$h" | wc -l) new public names;" \
         "program half $prog of $lines lines ($((100 * prog / lines))%, at most 25%)"
    earlier+=("$c")
done
