# The trainable run's 2-D table: the padding row stays at the origin.
output = 'fig-trajectories.png'
plot_title = 'Context model, padding_idx=-1: every row moves but the padding row'
load 'chapters/trajectories.gp'
