# The tied table's gradient split per row: the mean norm of each row's
# gradient along the embedding path and along the projection path, rows in
# order of word frequency (dir/split.tsv, the first size's seed-0 tied run).
load 'chapters/style.gp'
set output dir.'/fig-split.png'
set title 'Where a tied row''s gradient comes from, by the word''s frequency rank'
set xlabel 'frequency rank of the word (0 is <unk>, 1 the most frequent)' noenhanced
set ylabel 'mean gradient norm per step'
set logscale xy
set key top right
plot dir.'/split.tsv' using ($1 + 1):4 with points pt 7 ps 0.4 lc rgb C1 title 'embedding path', \
     '' using ($1 + 1):5 with points pt 7 ps 0.4 lc rgb C4 title 'projection path'
