# SparseAdam's first step for a row first seen at step t.
load 'chapters/style.gp'
set output dir.'/fig-late.png'
set title "The first step of a row first seen at step t, in learning rates\n\
(SparseAdam's defaults)"
set xlabel 't (step at which the row first appears)'
set ylabel 'move / lr'
set logscale x
set key top left
set yrange [0:3.5]
plot dir.'/late.tsv' using 1:2 with linespoints lt 1, '' using 1:3 with linespoints lt 2
