# Ghost updates: how far row 0 (looked up at step 1 only) and row 3 (never)
# have moved, in learning rates.
load 'chapters/style.gp'
set terminal pngcairo size 1000,460 enhanced font 'DejaVu Sans,11' linewidth 1.5
set output dir.'/fig-ghost.png'
set multiplot layout 1,2 title 'Rows without a gradient still move (distance from the start, in units of lr)'
set xlabel 'step'
set logscale y
set yrange [0.1:200]
set key top left font ',9' maxrows 5
set title 'row 0: a gradient at step 1 only'
plot for [c = 2:10] dir.'/ghost.tsv' using 1:(column(c) > 0 ? column(c) : 1/0) with lines lt c - 1 lw 1.5
set title 'row 3: never looked up'
set yrange [0.01:200]
plot for [c = 2:10] dir.'/ghost-never.tsv' using 1:(column(c) > 0 ? column(c) : 1/0) with lines lt c - 1 lw 1.5
unset multiplot
