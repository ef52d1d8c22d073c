# Every word's row moving through the plane during training (D = 2),
# coloured by category: an open circle where it started, a dot and its
# word where it ended.
load 'chapters/style.gp'
set output dir.'/fig-trajectories.png'
set size ratio -1
set title 'The 2-D table during training: each word''s path, from a circle to a dot'
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
