# trajectories.gp - shared by the chapters that train a 2-D table: draws
# every row's path from dir/trajectory.tsv (word, category, step, x, y; one
# block per row) coloured by the categories in dir/categories.tsv, with an
# open circle at the start and a dot and the word at the end.
# The caller sets `output` (file name in dir) and `plot_title`, then loads this.
load 'chapters/style.gp'
set output dir.'/'.output
set size ratio -1
set title plot_title noenhanced
set offsets graph 0.03, graph 0.12, graph 0.05, graph 0.05
set xlabel 'dimension 0'
set ylabel 'dimension 1'
set key outside right top title 'category' noenhanced
names = system("tail -n +2 ".dir."/categories.tsv | cut -f2 | tr '\\n' ' '")
stats dir.'/trajectory.tsv' using 3 nooutput
last = STATS_max
plot dir.'/trajectory.tsv' using 4:5:(cat_lt($2)) with lines lc variable lw 1.2 notitle, \
     ''  using ($3 == 0 ? $4 : 1/0):5:(cat_lt($2)) with points pt 6 ps 0.9 lc variable notitle, \
     ''  using ($3 == last ? $4 : 1/0):5:(cat_lt($2)) with points pt 7 ps 0.9 lc variable notitle, \
     ''  using ($3 == last ? $4 : 1/0):5:1:(cat_lt($2)) with labels offset char 0.6,0.5 left font ',8' tc variable notitle, \
     for [g = 1:words(names)] 1/0 with points pt 7 lt cat_lt(g - 1) title word(names, g)
