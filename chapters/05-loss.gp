# Tied against untied on the fortunes: training and validation loss, the mean
# over seeds with the smallest and largest seed as a band; one panel per model
# variant (embedding size, hidden layer) of this run (dir/loss.tsv).
load 'chapters/style.gp'
if (!exists('data')) data = dir.'/loss.tsv'
if (!exists('output')) output = dir.'/fig-loss.png'
stats data using 1 nooutput
ncol = STATS_columns
nv = (ncol - 1) / 12
set terminal pngcairo size 420 * nv + 140, 460 enhanced font 'DejaVu Sans,11' linewidth 1.5
set output output
set multiplot layout 1, nv title 'Tied (red), untied (blue): training (dashed), validation (solid)'
set xlabel 'step'
set ylabel 'cross-entropy (nats)'
set key top right
set yrange [:6]
col(v, t, s) = 2 + ((v * 2 + t) * 2 + s) * 3
do for [v = 0:nv - 1] {
    set title sprintf('%s', system(sprintf("head -1 %s | cut -f%d | cut -d' ' -f1-2", data, col(v, 0, 1))))
    plot data using 1:col(v,0,1):col(v,0,1)+1 with filledcurves lc rgb C1 fs transparent solid 0.25 notitle, \
         '' using 1:col(v,1,1):col(v,1,1)+1 with filledcurves lc rgb C4 fs transparent solid 0.25 notitle, \
         '' using 1:col(v,0,0) with lines lc rgb C1 dt 2 title 'untied, training', \
         '' using 1:col(v,0,1) with lines lc rgb C1 title 'untied, validation', \
         '' using 1:col(v,1,0) with lines lc rgb C4 dt 2 title 'tied, training', \
         '' using 1:col(v,1,1) with lines lc rgb C4 title 'tied, validation'
}
unset multiplot
