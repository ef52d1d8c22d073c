# Distinct rows in a batch of 4096 lookups: uniform and Zipf(1.1) indices.
load 'chapters/style.gp'
set output dir.'/fig-skew.png'
set title 'Distinct rows per batch of 4096 lookups'
set xlabel 'V (rows)'
set ylabel 'distinct rows'
set logscale x
set format x '10^{%T}'
set key bottom right
set yrange [0:4400]
plot dir.'/skew.tsv' using 1:2 with linespoints lt 1, \
     '' using 1:3 with lines lt 10 dt 2, \
     '' using 1:4 with linespoints lt 2
