# How well the table separates the word categories, per optimizer.
load 'chapters/style.gp'
set output dir.'/fig-spread.png'
set title 'Same-category distance / other-category distance (1: random, 0: perfect groups)'
set xlabel 'step'
set ylabel 'category spread'
set key top right
set logscale x
set xrange [1:*]
set autoscale xfixmax
set yrange [0:1.2]
plot for [c = 2:7] dir.'/spread.tsv' using 1:c with lines lt c - 1 lw 1.5, \
     0.2 with lines lc rgb '#333333' dt 2 lw 1 title 'spread 0.2'
