# style.gp - the book's one figure style, loaded by every chapter's scripts.
# A script is run as: gnuplot -e "dir='build/chNN'" -c chapters/NN-name.gp
# and writes dir/fig-name.png from the TSV files in dir.

set terminal pngcairo size 800,500 enhanced font 'DejaVu Sans,12' linewidth 1.5
set datafile separator "\t"
set key autotitle columnhead noenhanced
set border 3 lc rgb '#444444'
set tics nomirror textcolor rgb '#333333'
set grid lc rgb '#dddddd' lw 0.8
set style fill solid 0.85 noborder

# The palette (matplotlib's tab10 order).
C1 = '#1f77b4'; C2 = '#ff7f0e'; C3 = '#2ca02c'; C4 = '#d62728'; C5 = '#9467bd'; C6 = '#8c564b'
C7 = '#e377c2'; C8 = '#17becf'; C9 = '#bcbd22'; GREY = '#7f7f7f'
set linetype 1 lc rgb C1 lw 2 pt 7
set linetype 2 lc rgb C2 lw 2 pt 5
set linetype 3 lc rgb C3 lw 2 pt 9
set linetype 4 lc rgb C4 lw 2 pt 11
set linetype 5 lc rgb C5 lw 2 pt 13
set linetype 6 lc rgb C6 lw 2 pt 15
set linetype 7 lc rgb C7 lw 2 pt 7
set linetype 8 lc rgb C8 lw 2 pt 7
set linetype 9 lc rgb C9 lw 2 pt 7
set linetype 10 lc rgb GREY lw 2 pt 7
# Words of category c (from a chapter's categories.tsv) are drawn in linetype
# cat_lt(c); words without a category (c < 0) in grey.
cat_lt(c) = c < 0 ? 10 : (int(c) % 9) + 1
# Diverging palette for heat maps: blue (negative), white (0), red (positive).
set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')
