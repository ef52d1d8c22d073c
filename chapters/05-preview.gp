# A terminal preview of the rows with a gradient (printed by make chapter5).
set terminal dumb size 79,18
set datafile separator "\t"
set title 'Rows with a non-zero gradient per step: tied (all V) against untied'
set tics nomirror
set key center right
set logscale y
set yrange [1:2000]
plot dir.'/rows.tsv' using 1:4 with lines title 'tied', '' using 1:3 with lines title 'untied'
