# Loss curves (moving average over 100 steps) of the six runs.
load 'chapters/style.gp'
set output dir.'/fig-loss.png'
set title 'Training loss of the context model (mean of the last 100 batches)'
set xlabel 'SGD step'
set ylabel 'cross-entropy (nats)'
set key below horizontal maxcols 3 noenhanced
plot for [r = 2:7] dir.'/loss.tsv' using 1:r with lines lt r - 1 title columnhead(r)
