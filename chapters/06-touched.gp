# Rows each optimizer moved per step, and the size of SGD's sparse momentum buffer.
load 'chapters/style.gp'
set output dir.'/fig-touched.png'
set terminal pngcairo size 800,560 enhanced font 'DejaVu Sans,11' linewidth 1.5
set multiplot layout 2,1
set title "Rows moved per step (of 29); the grey line: rows looked up"
set ylabel 'rows'
set key outside right noenhanced
set yrange [0:31]
plot dir.'/touched.tsv' using 1:2 every 10 with lines lc rgb '#bbbbbb' lw 6 \
         title 'looked up', \
     '' using 1:3 every 10 with lines lt 1 title 'dense SGD', \
     '' using 1:5 every 10 with lines lt 2 title 'sparse SGD, momentum', \
     '' using 1:6 every 10 with lines lt 3 title 'sparse Adagrad', \
     '' using 1:7 every 10 with lines lt 4 title 'dense Adam', \
     '' using 1:8 every 10 with lines lt 5 title 'SparseAdam', \
     '' using 1:11 every 10 with lines lt 6 title 'SparseAdam, global decay'
set title "Entries in sparse SGD's momentum buffer (it never shrinks)"
set xlabel 'step'
set ylabel 'entries'
set autoscale y
unset key
plot dir.'/touched.tsv' using 1:12 with lines lt 2
unset multiplot
