# A terminal preview of the ghost updates (printed by make chapter4).
set terminal dumb size 79,20
set datafile separator "\t"
set title 'Row 0, looked up at step 1 only: distance moved, in units of lr'
set tics nomirror
set key top left
plot dir.'/ghost.tsv' using 1:2 with lines title 'SGD', '' using 1:3 with lines title 'SGD-momentum', '' using 1:5 with lines title 'Adam'
