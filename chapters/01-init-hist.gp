# Histogram of a large table's initial values against the N(0,1) density.
load 'chapters/style.gp'
set output dir.'/fig-init-hist.png'
set title 'Initial values of the large table (make chapter1: 30522 x 768, seed 0)'
set xlabel 'value'
set ylabel 'density'
set xrange [-4.5:4.5]
set boxwidth 0.1
plot dir.'/init-hist.tsv' using 1:3 with boxes lc rgb C1 title 'our table (bins of 0.1)', \
     ''                   using 1:4 with lines lc rgb C2 lw 2.5 title 'N(0,1) density'
