# A terminal preview of the loss curve (printed by make chapter2).
set terminal dumb size 79,20
set datafile separator "\t"
set title 'Training loss per step (log x) against the unigram baseline'
set logscale x
set tics nomirror
unset key
plot dir.'/loss.tsv' using 1:2 every 10 with lines, '' using 1:4 with lines
