# A terminal preview of SparseAdam's late rows (printed by make chapter6).
set terminal dumb size 79,20
set datafile separator "\t"
set title "SparseAdam: first step of a row first seen at step t, in lr"
set tics nomirror
set logscale x
set key top left
plot dir.'/late.tsv' using 1:2 with lines title 'PyTorch', \
     '' using 1:3 with lines title 'per-row count'
