# The loss per step, with and without zero_grad, against the unigram baseline.
load 'chapters/style.gp'
set output dir.'/fig-loss.png'
set title 'Training loss (batch mean) and the baseline of a model that ignores its input'
set xlabel 'SGD step'
set ylabel 'cross-entropy (nats)'
set key bottom left
set logscale x
set xrange [1:*]
set autoscale xfixmax
set yrange [0:6]
plot dir.'/loss.tsv' using 1:3 with lines lc rgb C4 lw 1 title 'without zero_grad (leaves the plot: it diverges)', \
     ''              using 1:2 with lines lc rgb C1 lw 1 title 'with zero_grad', \
     ''              using 1:4 with lines lc rgb '#333333' dt 2 lw 2 title 'unigram entropy (baseline)'
