# The dense gradient of one batch beside its sparse entries (same colour scale).
load 'chapters/style.gp'
set output dir.'/fig-gradients.png'
set terminal pngcairo size 800,420 enhanced font 'DejaVu Sans,11' linewidth 1.5
stats dir.'/grad-dense.tsv' using (abs($3)) nooutput
M = STATS_max
set cbrange [-M:M]
set grid noxtics noytics
unset key
set multiplot layout 1,2 \
    title 'The same gradient, dense (V x D) and sparse (one entry per lookup)'
set title 'dense: 12 rows x 4, mostly zero'
set xlabel 'column'
set ylabel 'row'
set yrange [11.5:-0.5]
set xrange [-0.5:3.5]
set ytics 0,1
set xtics 0,1,3
unset colorbox
plot dir.'/grad-dense.tsv' using 2:1:3 with image
set title 'sparse: 8 entries, labelled by row'
set ylabel 'entry'
set yrange [7.5:-0.5]
set xrange [-0.5:5.2]
set colorbox user origin 0.92,0.2 size 0.02,0.6
plot dir.'/grad-sparse.tsv' using 2:1:3 with image, \
     '' using ($2 == 3 ? 3.6 : 1/0):1:(sprintf('row %d', $4)) with labels left font ',10'
unset multiplot
