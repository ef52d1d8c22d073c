# Small multiples: the 2-D table during training, one panel per optimizer.
load 'chapters/style.gp'
set terminal pngcairo size 1200,820 enhanced font 'DejaVu Sans,10' linewidth 1.2
set output dir.'/fig-trajectories.png'
runs = 'SGD SGD-momentum Adam AdamW Adagrad RMSprop'
set multiplot layout 2,3 title 'The table learning, one optimizer per panel (circle: start, dot: end)'
set size ratio -1
unset key
set tics font ',8'
do for [r = 1:words(runs)] {
    f = dir.'/'.word(runs, r).'/trajectory.tsv'
    stats f using 3 nooutput
    last = STATS_max
    set title word(runs, r) noenhanced
    plot f using 4:5:(cat_lt($2)) with lines lc variable lw 0.8, \
         '' using ($3 == 0 ? $4 : 1/0):5:(cat_lt($2)) with points pt 6 ps 0.6 lc variable, \
         '' using ($3 == last ? $4 : 1/0):5:(cat_lt($2)) with points pt 7 ps 0.6 lc variable
}
unset multiplot
