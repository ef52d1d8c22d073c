# Heat map of the small table; rows that were looked up are marked.
load 'chapters/style.gp'
set output dir.'/fig-table.png'
stats dir.'/table.tsv' using 1 nooutput
V = STATS_max + 1
stats dir.'/table.tsv' using 2 nooutput
D = STATS_max + 1
stats dir.'/table.tsv' using (abs($3)) nooutput
M = STATS_max
set title sprintf('nn.Embedding(%d, %d); arrows: rows looked up, and how many times', V, D)
set xlabel 'column (embedding dimension)'
set ylabel 'row (id)'
set yrange [V-0.5:-0.5]
set xrange [-0.5:D+1.8]
set xtics 0,1,D-1
set ytics 0,1
set cbrange [-M:M]
set cblabel 'value'
set grid noxtics noytics
unset key
# Each looked-up row gets an arrow and its lookup count on the right.
plot dir.'/table.tsv' using 2:1:3 with image, \
     ''  using ($4 > 0 && $2 == D-1 ? D+0.9 : 1/0):1:(-0.7):(0) with vectors head filled lc rgb C4 lw 2, \
     ''  using ($4 > 0 && $2 == D-1 ? D+1.2 : 1/0):1:(sprintf('x%d', $4)) with labels left tc rgb C4 font ',12'
