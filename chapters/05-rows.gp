# Rows of the table whose gradient is not zero, per step (dir/rows.tsv).
load 'chapters/style.gp'
set output dir.'/fig-rows.png'
set title 'Rows with a gradient, per step'
set xlabel 'step'
set ylabel 'rows'
set logscale y
set key center right
plot dir.'/rows.tsv' using 1:4 with lines lc rgb C4 title 'tied', \
     '' using 1:3 with lines lc rgb C1 title 'untied', \
     '' using 1:2 with points pt 6 ps 0.5 lc rgb GREY title 'distinct words looked up'
