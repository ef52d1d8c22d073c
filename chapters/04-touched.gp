# Rows looked up vs rows moved per step, per optimizer.
load 'chapters/style.gp'
set output dir.'/fig-touched.png'
set title "Rows looked up by each batch, and rows each optimizer moved, of the whole vocabulary\nSGD, Adagrad and RMSprop move exactly the rows looked up: their lines lie on the grey one"
set xlabel 'step'
set ylabel 'rows'
set key bottom right
set yrange [0:32]
plot dir.'/touched.tsv' using 1:2 every 10 with lines lc rgb '#bbbbbb' lw 6 title 'looked up', \
     for [c = 3:8] '' using 1:c every 10 with lines lt c - 2 lw 1.2
