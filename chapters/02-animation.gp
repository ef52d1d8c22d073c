# An animated GIF of the 2-D table as it trains: one frame per snapshot.
# Each frame's labels are placed by chapters/trajectory-labels.awk so that
# none overlap, as in the trajectory figure.
load 'chapters/style.gp'
names = system("tail -n +2 ".dir."/categories.tsv | cut -f2 | tr '\\n' ' '")
data = dir.'/frames.tsv'
# The step of each frame (before any range is set: stats obeys ranges).
stats data using 3 nooutput
frames = STATS_blocks
array step[frames]
do for [f = 1:frames] {
    stats data index (f - 1) using 3 nooutput
    step[f] = int(STATS_max)
}
stats data using 4 nooutput
xlo = STATS_min; xhi = STATS_max
stats data using 5 nooutput
ylo = STATS_min; yhi = STATS_max
pad = 0.08 * ((xhi - xlo) > (yhi - ylo) ? (xhi - xlo) : (yhi - ylo))
set xrange [xlo - pad : xhi + pad]
set yrange [ylo - pad : yhi + pad]
set size ratio -1
set key outside right top title 'category' noenhanced
set style textbox opaque fillcolor rgb '#26ffffff' noborder margins 0.5, 0.2

# A plot of the first frame on a PNG of the GIF's size, thrown away, gives
# the plot area in pixels (a plot on the GIF would be a frame of it).
set terminal pngcairo size 720,560 font 'DejaVu Sans,10'
set output '/dev/null'
plot data index 0 using 4:5:(cat_lt($2)) with points pt 7 ps 1 lc variable notitle, \
     for [g = 1:words(names)] 1/0 with points pt 7 lt cat_lt(g - 1) title word(names, g)
W = GPVAL_TERM_XMAX - GPVAL_TERM_XMIN
H = GPVAL_TERM_YMAX - GPVAL_TERM_YMIN
X0 = GPVAL_X_MIN; X1 = GPVAL_X_MAX; Y0 = GPVAL_Y_MIN; Y1 = GPVAL_Y_MAX

# The label command of a frame is label_cmd, the frame's number and the file
# (the loop body is read again at every turn, so the long part is made once).
label_cmd = sprintf("< awk -F'\t' -v x0=%g -v x1=%g -v y0=%g -v y1=%g -v W=%g -v H=%g " \
                    . "-v cw=6.4 -v ch=13 -f chapters/trajectory-labels.awk -v block=", \
                    X0, X1, Y0, Y1, W, H)
set terminal gif animate delay 12 loop 0 size 720,560 font 'DejaVu Sans,10'
set output dir.'/fig-training.gif'
do for [f = 1:frames] {
    labels = label_cmd.sprintf('%d', f - 1)." '".data."'"
    set title sprintf('The table at step %d', step[f])
    plot data index (f - 1) using 4:5:(cat_lt($2)) with points pt 7 ps 1 lc variable notitle, \
         labels using ($10 != 0 ? $8 : 1/0):9:($4 - $8):($5 - $9) with vectors nohead lw 0.6 \
                lc rgb '#999999' notitle, \
         ''     using 6:7:1:(cat_lt($2)) with labels left boxed font ',8' tc variable notitle, \
         for [g = 1:words(names)] 1/0 with points pt 7 lt cat_lt(g - 1) title word(names, g)
}
