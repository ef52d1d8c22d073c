# Dense against sparse steps as the batch grows (V = 16384, D = 64), timed in this run.
load 'chapters/style.gp'
set output dir.'/fig-crossover.png'
set title 'One step, dense and sparse, as the batch grows (V = 16384, D = 64; this run)'
set xlabel 'N / V (lookups per row of the table)'
set ylabel 'ms per step'
set logscale xy
set key top left
plot dir.'/crossover.tsv' using 2:3 with linespoints lt 1 dt 2, \
     '' using 2:4 with linespoints lt 1, \
     '' using 2:5 with linespoints lt 4 dt 2, '' using 2:6 with linespoints lt 4
