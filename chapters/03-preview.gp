# A terminal preview of the loss curves (printed by make chapter3).
set terminal dumb size 79,22
set datafile separator "\t"
set title 'Loss (moving average): 1 trainable ... 4 frozen random, 5 frozen pre-trained'
set key off
plot for [r = 2:7] dir.'/loss.tsv' using 1:r every 20 with lines
