# Every optimizer on chapter 2's model: the batch loss (moving average of 50 steps).
load 'chapters/style.gp'
set output dir.'/fig-loss.png'
set title 'The same model, initial table and batches, one optimizer each'
set xlabel 'step'
set ylabel 'cross-entropy (nats), mean of the last 50 steps'
set key top right
set logscale x
set xrange [10:*]
set autoscale xfixmax
set yrange [1.4:3.6]
plot for [c = 2:7] dir.'/loss.tsv' using 1:c with lines lt c - 1 lw 1.5, \
     '' using 1:8 with lines lc rgb '#333333' dt 2 lw 2 title 'unigram baseline'
