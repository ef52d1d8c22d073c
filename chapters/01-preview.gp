# A terminal preview of the histogram (printed by make chapter1).
set terminal dumb size 79,20
set datafile separator "\t"
set title 'Initial values (bars, bins of 0.1) against the N(0,1) density (line)'
set xrange [-4:4]
set yrange [0:0.45]
set tics nomirror
unset key
plot dir.'/init-hist.tsv' using 1:3 with impulses, '' using 1:4 with lines
