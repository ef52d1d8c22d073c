# trajectories.gp - shared by the chapters that train a 2-D table: draws
# every row's path from dir/trajectory.tsv (word, category, step, x, y; one
# block per row) coloured by the categories in dir/categories.tsv, with an
# open circle at the start and a dot and the word at the end. Rows that
# never moved are drawn last, ringed, so no path hides them. The labels are
# placed by chapters/trajectory-labels.awk so that none overlap; a label
# pushed away from a crowded point is joined to it by a thin line.
# The caller sets `output` (file name in dir) and `plot_title`, then loads this.
load 'chapters/style.gp'
set output dir.'/'.output
set size ratio -1
set title plot_title noenhanced
set offsets graph 0.06, graph 0.16, graph 0.08, graph 0.08
set xlabel 'dimension 0'
set ylabel 'dimension 1'
set key outside right top title 'category' noenhanced
names = system("tail -n +2 ".dir."/categories.tsv | cut -f2 | tr '\\n' ' '")
data = dir.'/trajectory.tsv'
stats data using 3 nooutput
last = STATS_max
LABEL_FONT = ',10'
# Labels sit on a mostly opaque white box, so paths under them do not hide them.
set style textbox opaque fillcolor rgb '#26ffffff' noborder margins 0.5, 0.2
INK = '#444444'


# First pass: the paths alone, to learn the ranges and the plot area.
plot data using 4:5:(cat_lt($2)) with lines lc variable lw 1.2 notitle, \
     for [g = 1:words(names)] 1/0 with points pt 7 lt cat_lt(g - 1) title word(names, g), \
     1/0 with points pt 6 ps 1.2 lc rgb INK title 'start', \
     1/0 with points pt 7 ps 1.2 lc rgb INK title 'end', \
     1/0 with points pt 6 ps 2.0 lw 1.5 lc rgb 'black' title 'never moved'
set xrange [GPVAL_X_MIN:GPVAL_X_MAX]
set yrange [GPVAL_Y_MIN:GPVAL_Y_MAX]
# The plot area in pixels (pngcairo gives GPVAL_TERM_[XY]M.. in pixels).
W = GPVAL_TERM_XMAX - GPVAL_TERM_XMIN
H = GPVAL_TERM_YMAX - GPVAL_TERM_YMIN
labels = sprintf("< awk -F'\t' -v x0=%g -v x1=%g -v y0=%g -v y1=%g -v W=%g -v H=%g " \
                 . "-v cw=7.8 -v ch=15 -f chapters/trajectory-labels.awk '%s'", \
                 GPVAL_X_MIN, GPVAL_X_MAX, GPVAL_Y_MIN, GPVAL_Y_MAX, W, H, data)

set output dir.'/'.output
plot data using 4:5:(cat_lt($2)) with lines lc variable lw 1.2 notitle, \
     ''  using ($3 == 0 ? $4 : 1/0):5:(cat_lt($2)) with points pt 6 ps 0.9 lc variable notitle, \
     ''  using ($3 == last ? $4 : 1/0):5:(cat_lt($2)) with points pt 7 ps 0.9 lc variable notitle, \
     labels using ($10 != 0 ? $8 : 1/0):9:($4 - $8):($5 - $9) with vectors nohead lw 0.6 \
            lc rgb '#999999' notitle, \
     ''     using 6:7:1:(cat_lt($2)) with labels left boxed font LABEL_FONT tc variable notitle, \
     ''     using ($3 != 0 ? 1/0 : $4):5:(cat_lt($2)) with points pt 7 ps 1.3 lc variable notitle, \
     ''     using ($3 != 0 ? 1/0 : $4):5 with points pt 6 ps 2.0 lw 1.5 lc rgb 'black' notitle, \
     for [g = 1:words(names)] 1/0 with points pt 7 lt cat_lt(g - 1) title word(names, g), \
     1/0 with points pt 6 ps 1.2 lc rgb INK title 'start', \
     1/0 with points pt 7 ps 1.2 lc rgb INK title 'end', \
     1/0 with points pt 6 ps 2.0 lw 1.5 lc rgb 'black' title 'never moved'
