# The full experiment (make experiment5), from its committed results: the
# same panels as fig-loss.png, one per embedding size and hidden layer.
data = 'experiments/ch05/full/loss.tsv'
output = dir.'/fig-experiment.png'
load 'chapters/05-loss.gp'
