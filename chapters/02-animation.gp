# An animated GIF of the 2-D table as it trains: one frame per snapshot.
load 'chapters/style.gp'
set terminal gif animate delay 12 loop 0 size 720,560 font 'DejaVu Sans,10'
set output dir.'/fig-training.gif'
names = system("tail -n +2 ".dir."/categories.tsv | cut -f2 | tr '\\n' ' '")
# The step of each frame (before any range is set: stats obeys ranges).
stats dir.'/frames.tsv' using 3 nooutput
frames = STATS_blocks
array step[frames]
do for [f = 1:frames] {
    stats dir.'/frames.tsv' index (f - 1) using 3 nooutput
    step[f] = int(STATS_max)
}
stats dir.'/frames.tsv' using 4 nooutput
xlo = STATS_min; xhi = STATS_max
stats dir.'/frames.tsv' using 5 nooutput
ylo = STATS_min; yhi = STATS_max
pad = 0.08 * ((xhi - xlo) > (yhi - ylo) ? (xhi - xlo) : (yhi - ylo))
set xrange [xlo - pad : xhi + pad]
set yrange [ylo - pad : yhi + pad]
set size ratio -1
set key outside right top title 'category' noenhanced
do for [f = 1:frames] {
    set title sprintf('The table at step %d', step[f])
    plot dir.'/frames.tsv' index (f - 1) using 4:5:(cat_lt($2)) with points pt 7 ps 1 lc variable notitle, \
         ''                index (f - 1) using 4:5:1:(cat_lt($2)) with labels offset char 0.5,0.4 left font ',8' tc variable notitle, \
         for [g = 1:words(names)] 1/0 with points pt 7 lt cat_lt(g - 1) title word(names, g)
}
