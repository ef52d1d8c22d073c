# How many distinct rows each step's batch looked up: the only rows with a
# nonzero gradient, compared with the batch size and the vocabulary.
load 'chapters/style.gp'
set output dir.'/fig-touched.png'
stats dir.'/touched.tsv' using 4 nooutput
V = STATS_max
stats dir.'/touched.tsv' using 3 nooutput
B = STATS_max
stats dir.'/touched.tsv' using 1 nooutput
steps = STATS_max
# The first 200 steps are enough to see the pattern, which stays the same
# to the end of the run; the title says how many steps there were.
shown = steps < 200 ? steps : 200
set title sprintf("Rows of the %d-row table that get a gradient, per step (batch of %d)\n" \
                  . "the first %d of the run's %d steps", V, B, shown, steps)
set xlabel sprintf('SGD step (1 to %d of %d)', shown, steps)
set ylabel 'rows'
set yrange [0:(V > B ? V : B) * 1.3]
set xrange [0:shown]
set key top left horizontal
plot dir.'/touched.tsv' using 1:2 with impulses lc rgb C1 title 'distinct rows looked up', \
     ''                 using 1:3 with lines lc rgb C2 dt 2 title 'batch size', \
     ''                 using 1:4 with lines lc rgb '#333333' dt 3 title 'vocabulary size V'
