# Step time against V, dense and sparse, C and PyTorch (uniform indices, D = 64,
# N = 4096), from the committed results of make bench (tests/bench/ch06-*.tsv).
load 'chapters/style.gp'
set output dir.'/fig-bench.png'
set terminal pngcairo size 800,560 enhanced font 'DejaVu Sans,11' linewidth 1.5
set title "One training step against V (make bench, uniform indices, D = 64, N = 4096)"
set xlabel 'V (rows)'
set ylabel 'ms per step'
set logscale xy
set format x '10^{%T}'
set key outside right noenhanced
steps = 'tests/bench/ch06-steps.tsv'
dense = 'tests/bench/ch06-dense.tsv'
plot dense using 1:2 with linespoints lt 1 dt 2 title 'C dense SGD', \
     dense using 1:3 with linespoints lt 2 dt 2 title 'PyTorch dense SGD', \
     dense using 1:4 with linespoints lt 4 dt 2 title 'C dense Adam', \
     dense using 1:5 with linespoints lt 5 dt 2 title 'PyTorch dense Adam', \
     steps every ::0::4 using 2:6 with linespoints lt 1 title 'C sparse SGD', \
     steps every ::0::4 using 2:10 with linespoints lt 2 title 'PyTorch sparse SGD', \
     steps every ::0::4 using 2:11 with linespoints lt 4 title 'C SparseAdam', \
     steps every ::0::4 using 2:13 with linespoints lt 5 title 'PyTorch SparseAdam', \
     steps every ::0::4 using 2:9 with lines lt 10 dt 3 title 'sparse SGD floor'
