#!/usr/bin/env bash
# What each chapter adds to the ones before it, and how its functions
# extend earlier ones. Chapters never copy earlier code, so a diff of two
# chapter files would compare unrelated text. The unit that does compare is
# a function: a chapter marks a function that extends an earlier chapter's
# function with a one-line tag on the line just before its definition,
#
#     // extends: emb_backward
#     int emb_backward_opts(Embedding *e, ...) {
#
# and this script shows the unified diff of the two functions.
#
#   docs/chapter-diff.sh OUTDIR CHAPTER.c...
#       For each chapter: its new public names, the earlier functions it
#       uses, its program half's share of its lines (the lines between
#       `#ifndef EMB_LIBRARY` and its `#endif`) and, printed in full, the
#       diff of every tagged function against the function it extends.
#       Writes the same as OUTDIR/NN-name.md, one file per chapter.
#   docs/chapter-diff.sh --appendix FILE CHAPTER.c...
#       Writes the book's appendix page, FILE (Markdown): every chapter's
#       diffs under the chapter's title.
#   docs/chapter-diff.sh --check CHAPTER.c...
#       Only checks the tags.
#
# Chapters are given in reading order. A tag must name a function that an
# earlier chapter defines, and stand right before a function definition;
# otherwise the script prints FILE:LINE: what is wrong, and exits 1.
set -euo pipefail

mode=report
case ${1:-} in
    --check) mode=check; shift ;;
    --appendix) mode=appendix; appendix=$2; shift 2 ;;
    -*|'') echo "usage: $0 OUTDIR|--appendix FILE|--check CHAPTER.c..." >&2; exit 2 ;;
    *) out=$1; shift ;;
esac
[ $# -gt 0 ] || { echo "$0: no chapters given" >&2; exit 2; }

# Public function and type names declared in a header.
declared() {
    sed -n -E 's/^[A-Za-z_][A-Za-z0-9_ *]*[ *]([a-z_][a-z0-9_]*)\(.*/\1/p; s/^typedef struct ([A-Za-z0-9_]+).*/\1/p' "$1" | sort -u
}

# The tags of a chapter, one "LINE EXTENDED DEFINED" a line: the tag's line,
# the name it gives, and the function defined on the next line ("-" if none).
tags() {
    awk '
        tag { fn = "-"
              if ($0 ~ /^[A-Za-z_][A-Za-z0-9_ *]*[ *][A-Za-z_][A-Za-z0-9_]*\(/ && $0 !~ /;[ \t]*$/) {
                  fn = $0; sub(/\(.*/, "", fn); sub(/.*[ *]/, "", fn)
              }
              print line, name, fn; tag = 0 }
        /^\/\/ extends:/ { line = NR; name = $3; if (name == "" || NF > 3) name = "-"; tag = 1 }
        END { if (tag) print line, name, "-" }' "$1"
}

# "LINE" of the definition of function NAME in FILE, and the definition, up
# to the closing brace at column 0; nothing if FILE does not define NAME.
function_body() {
    awk -v name="$2" '
        !found && $0 ~ ("^[A-Za-z_][A-Za-z0-9_ *]*[ *]" name "\\(") && $0 !~ /;[ \t]*$/ {
            found = 1; start = NR; n = 0 }
        found { body[++n] = $0
                if ($0 ~ /\{/) opened = 1
                if (!opened && $0 ~ /;[ \t]*$/) { found = 0; opened = 0 }  # a prototype
                else if ($0 ~ /^}/) { print start; for (i = 1; i <= n; i++) print body[i]; exit } }' "$1"
}

# The lines of a chapter's program half (#ifndef EMB_LIBRARY ... its #endif).
program_lines() {
    awk '
        inprog && /^[ \t]*#[ \t]*if/ { depth++ }
        !inprog && /^#ifndef EMB_LIBRARY/ { inprog = 1; depth = 0 }
        inprog { n++ }
        inprog && /^[ \t]*#[ \t]*endif/ { if (depth == 0) inprog = 0; else depth-- }
        END { print n + 0 }' "$1"
}

# The chapter's title, from its first "# Chapter N: ..." line.
title() { grep -m1 -E '^# ' "$1" | sed 's/^# //' || basename "$1" .c; }

# Checks every tag of every chapter; prints "FILE:LINE: ..." for each bad one.
status=0
earlier=()
for c in "$@"; do
    while read -r line name fn; do
        if [ "$name" = - ]; then
            echo "$c:$line: a tag is '// extends: NAME', one function's name" >&2; status=1
        elif [ "$fn" = - ]; then
            echo "$c:$line: '// extends: $name' must stand on the line just before a function's definition" >&2
            status=1
        else
            found=
            for e in "${earlier[@]}"; do
                [ -n "$(function_body "$e" "$name")" ] && { found=$e; break; }
            done
            if [ -z "$found" ]; then
                echo "$c:$line: $fn extends '$name', which no earlier chapter defines" >&2; status=1
            fi
        fi
    done < <(tags "$c")
    earlier+=("$c")
done
[ "$status" -eq 0 ] || exit 1
[ "$mode" = check ] && exit 0

# The unified diff of the function `old` in file a and `new` in file b, the
# whole function as context, hunk lines numbered as in the two files.
function_diff() {
    local a=$1 old=$2 b=$3 new=$4 abody bbody
    abody=$(function_body "$a" "$old"); bbody=$(function_body "$b" "$new")
    diff -U 999 --label "$a: $old" --label "$b: $new" \
        <(tail -n +2 <<<"$abody") <(tail -n +2 <<<"$bbody") |
        awk -v da="$(( $(head -n 1 <<<"$abody") - 1 ))" -v db="$(( $(head -n 1 <<<"$bbody") - 1 ))" '
            /^@@ / { split($2, x, ","); split($3, y, ",")
                     printf "@@ -%d%s +%d%s @@\n", -x[1] + da, x[2] == "" ? "" : "," x[2],
                            y[1] + db, y[2] == "" ? "" : "," y[2]; next }
            { print }' || true
}

# Where NAME is defined among the chapters before chapter c (the first that does).
defined_in() {
    local name=$1 c=$2 e
    for e in "${all[@]}"; do
        [ "$e" = "$c" ] && return
        [ -n "$(function_body "$e" "$name")" ] && { echo "$e"; return; }
    done
}

all=("$@")

# The appendix page, written to FILE.tmp and renamed.
write_appendix() {
    mkdir -p "$(dirname "$appendix")"
    trap 'rm -f "$appendix.tmp"' EXIT
    appendix_text > "$appendix.tmp"
    mv "$appendix.tmp" "$appendix"
}

appendix_text() {
    echo "# Appendix: what each chapter changed"
    echo
    echo "A later chapter never edits an earlier chapter's function. When it needs"
    echo "more, it writes a new function, often one that *extends* an earlier one,"
    echo "and marks it with a one-line tag just before its definition,"
    echo "\`// extends: emb_backward\`. Here is every such pair as a unified diff of"
    echo "the two functions: lines marked \`-\` are only in the earlier function,"
    echo "lines marked \`+\` only in the later one, and the \`@@\` line gives where"
    echo "each starts in its file. \`make diffs\` prints the same diffs in a terminal."
    for c in "${all[@]}"; do
        echo
        echo "## $(title "$c")"
        n=0
        while read -r line name fn; do
            e=$(defined_in "$name" "$c")
            n=$((n + 1))
            echo
            echo "### \`$fn\` extends \`$name\`"
            echo
            echo "From \`$e\` to \`$c\`:"
            echo
            echo '```diff'
            function_diff "$e" "$name" "$c" "$fn"
            echo '```'
        done < <(tags "$c")
        if [ "$c" = "${all[0]}" ]; then
            echo
            echo "The first chapter: all of its code is new."
        elif [ "$n" -eq 0 ]; then
            echo
            echo "No function of this chapter extends an earlier one: everything it adds is new."
        fi
    done
}

if [ "$mode" = appendix ]; then
    write_appendix
    exit 0
fi

mkdir -p "$out"
earlier=()
for c in "$@"; do
    name=$(basename "$c" .c)
    h=${c%.c}.h
    report=$out/$name.md
    lines=$(wc -l < "$c")
    prog=$(program_lines "$c")
    share="program half $prog of $lines lines ($((100 * prog / lines))%, at most 25%)"
    {
        echo "# What ${name} adds"
        echo
        echo "Source: \`$c\` ($lines lines, $(grep -c '^/\*\*' "$c") prose blocks; $share) and \`$h\`."
        echo
        echo "## New public names (from \`$h\`)"
        echo
        declared "$h" | sed 's/^/- `/; s/$/`/'
        if [ ${#earlier[@]} -gt 0 ]; then
            echo
            echo "## Earlier chapters' functions it uses"
            echo
            for e in "${earlier[@]}"; do
                used=$(for f in $(declared "${e%.c}.h"); do if grep -qw "$f" "$c"; then echo "$f"; fi; done | tr '\n' ' ')
                [ -n "$used" ] && echo "- from \`$(basename "$e")\`: $used"
            done
        fi
        ntags=$(tags "$c" | wc -l)
        if [ "$ntags" -gt 0 ]; then
            echo
            echo "## Functions that extend earlier ones"
            while read -r line tname fn; do
                echo
                echo "\`$fn\` extends \`$tname\`:"
                echo
                echo '```diff'
                function_diff "$(defined_in "$tname" "$c")" "$tname" "$c" "$fn"
                echo '```'
            done < <(tags "$c")
        fi
    } > "$report"
    echo "$report: $(declared "$h" | wc -l) new public names; $share; $(tags "$c" | wc -l) functions extend earlier ones"
    while read -r line tname fn; do
        echo
        function_diff "$(defined_in "$tname" "$c")" "$tname" "$c" "$fn"
    done < <(tags "$c")
    if [ "$(tags "$c" | wc -l)" -gt 0 ]; then echo; fi
    earlier+=("$c")
done
