# Weights + gradient + optimizer state against V (D = 64, batches of 4096 lookups).
load 'chapters/style.gp'
set output dir.'/fig-memory.png'
set title "Memory of one training step: weight + gradient + optimizer state\n\
(D = 64, N = 4096)"
set xlabel 'V (rows)'
set ylabel 'bytes'
set logscale xy
set format y '10^{%T}'
set format x '10^{%T}'
set key top left noenhanced
plot dir.'/memory.tsv' every ::0::4 using 2:4 with linespoints lt 1 dt 2, \
     '' every ::0::4 using 2:10 with linespoints lt 1, \
     '' every ::0::4 using 2:6 with linespoints lt 3 dt 2, \
     '' every ::0::4 using 2:12 with linespoints lt 3, \
     '' every ::0::4 using 2:7 with linespoints lt 4 dt 2, \
     '' every ::0::4 using 2:13 with linespoints lt 4
