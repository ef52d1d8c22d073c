# The slice experiment (make experiment5), from its committed results: a
# 40,000-word slice of the training text, trained for several epochs.
data = 'experiments/ch05/slice/loss.tsv'
output = dir.'/fig-slice.png'
load 'chapters/05-loss.gp'
