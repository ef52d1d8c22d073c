# A tied 2-D table on chapter 2's corpus: every row's path (dir/trajectory.tsv).
output = 'fig-trajectories.png'
plot_title = 'A tied 2-D table during training; <unk> is never looked up, yet it moves'
load 'chapters/trajectories.gp'
