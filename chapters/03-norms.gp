# Row norms during training, with and without max_norm.
load 'chapters/style.gp'
set output dir.'/fig-norms.png'
stats dir.'/norms.tsv' using 6 nooutput
limit = STATS_max
set title sprintf('2-norms of the word rows during training, without and with max_norm=%g', limit) noenhanced
set xlabel 'SGD step'
set ylabel 'row norm'
set key top left noenhanced
set yrange [0:*]
plot dir.'/norms.tsv' using 1:3 with lines lc rgb C1 dt 2 title 'largest, no max_norm', \
     ''               using 1:2 with lines lc rgb C1 title 'mean, no max_norm', \
     ''               using 1:5 with lines lc rgb C2 dt 2 title 'largest, max_norm', \
     ''               using 1:4 with lines lc rgb C2 title 'mean, max_norm', \
     ''               using 1:6 with lines lc rgb '#333333' dt 3 title 'max_norm'
