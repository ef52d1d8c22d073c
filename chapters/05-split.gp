# The tied table's gradient split per row: the mean norm of each row's
# gradient along the embedding path and along the projection path, rows in
# order of word frequency; points per word, lines the mean over bins of rank.
# From the full experiment's first tied run (experiments/ch05/full/split.tsv:
# D = 16, no hidden layer, seed 0, 3000 steps).
load 'chapters/style.gp'
data = 'experiments/ch05/full/split.tsv'
set output dir.'/fig-split.png'
set title 'Where a tied row''s gradient comes from, by the word''s frequency rank'
set xlabel 'frequency rank of the word + 1 (1 is <unk>, 2 the most frequent word)' noenhanced
set ylabel 'mean gradient norm per step'
set logscale xy
set format y '10^{%L}'
set key top right
bin(x) = exp((floor(log(x) * 5) + 0.5) / 5)
plot data using ($1 + 1):4 with points pt 7 ps 0.25 lc rgb '#9ecae1' notitle, \
     '' using ($1 + 1):5 with points pt 7 ps 0.25 lc rgb '#fcae91' notitle, \
     '' using (bin($1 + 1)):4 smooth unique with lines lc rgb C1 lw 2.5 title 'embedding path', \
     '' using (bin($1 + 1)):5 smooth unique with lines lc rgb C4 lw 2.5 title 'projection path'
