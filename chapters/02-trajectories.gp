# Every word's row moving through the plane during training (D = 2).
output = 'fig-trajectories.png'
plot_title = 'The 2-D table during training: each word''s path, from a circle to a dot'
load 'chapters/trajectories.gp'
