# trajectory-labels.awk - where to put the word labels of a trajectory figure
# so that no two overlap (chapters/trajectories.gp runs it).
#
#   awk -F'\t' -v x0=.. -v x1=.. -v y0=.. -v y1=.. -v W=.. -v H=.. \
#       -v cw=.. -v ch=.. -f chapters/trajectory-labels.awk trajectory.tsv
#
# Input: trajectory.tsv (word, category, step, x, y; a header row; one block
# per row of the table). x0..x1, y0..y1 are the plot's ranges, W x H the
# plot area in pixels, cw and ch a label character's width and height in
# pixels. With -v block=N only the N-th block (from 0) is read: one frame of
# frames.tsv (the same columns, one block per snapshot).
#
# Output, one line per word after a header row: word, category, moved (0 if
# the row ended exactly where it started), the end point (x, y), the label's
# left end (lx, ly: ly is the label's vertical centre) and the point of the
# label nearest to the end point (ex, ey), and leader (1 when the label had
# to move away from its point, so a thin line should join them).
#
# Placement is greedy, word by word: the first of a list of positions
# around the point, nearest first, whose box overlaps no label placed so
# far, no end point and no edge of the plot. A crowded cluster gets its
# labels fanned out around it, each joined to its point.

NR == 1 { next }
NF == 0 { if (seen) gap = 1; next }
$3 == "step" { next }  # a block's own header row (frames.tsv has one per block)
NF >= 5 {
    if (gap) { blk++; gap = 0 }
    seen = 1
    if (block != "" && blk != block) next
    w = $1
    if (!(w in first_x)) {
        order[++n] = w; cat[w] = $2; first_x[w] = $4; first_y[w] = $5
    }
    last_x[w] = $4; last_y[w] = $5
}

function px(x) { return (x - x0) / (x1 - x0) * W }
function py(y) { return (y - y0) / (y1 - y0) * H }
function dx(p) { return x0 + p / W * (x1 - x0) }
function dy(p) { return y0 + p / H * (y1 - y0) }
function overlaps(l, r, b, t,    k) {
    if (l < 0 || r > W || b < 0 || t > H) return 1
    for (k = 1; k <= placed; k++)
        if (l < R[k] && r > L[k] && b < T[k] && t > B[k]) return 1
    for (k = 1; k <= n; k++)
        if (l < PX[k] + 5 && r > PX[k] - 5 && b < PY[k] + 5 && t > PY[k] - 5) return 1
    return 0
}

END {
    pi = atan2(0, -1)
    nang = split("0 25 -25 50 -50 90 -90 180 155 -155 130 -130 75 -75 105 -105", ang, " ")
    for (i = 1; i <= n; i++) { PX[i] = px(last_x[order[i]]); PY[i] = py(last_y[order[i]]) }
    print "word\tcategory\tmoved\tx\ty\tlx\tly\tex\tey\tleader"
    for (i = 1; i <= n; i++) {
        w = order[i]; width = length(w) * cw; best = 0
        for (ring = 0; ring < 14 && !best; ring++) {
            r = 8 + ring * ch * 0.9
            for (a = 1; a <= nang && !best; a++) {
                c = cos(ang[a] * pi / 180); s = sin(ang[a] * pi / 180)
                ax = PX[i] + r * c; ay = PY[i] + r * s
                if (c > 0.3) l = ax; else if (c < -0.3) l = ax - width; else l = ax - width / 2
                if (!overlaps(l, l + width, ay - ch / 2, ay + ch / 2)) {
                    best = 1; bl = l; by = ay; lead = ring > 0
                }
            }
        }
        if (!best) { bl = PX[i] + 8; by = PY[i]; lead = 0 }  # nowhere free: beside the point
        placed++; L[placed] = bl; R[placed] = bl + width; B[placed] = by - ch / 2; T[placed] = by + ch / 2
        # The leader ends at the label's box, on the side facing the point.
        ex = PX[i] < bl ? bl : (PX[i] > bl + width ? bl + width : PX[i])
        ey = PY[i] < by - ch / 2 ? by - ch / 2 : (PY[i] > by + ch / 2 ? by + ch / 2 : PY[i])
        moved = (first_x[w] != last_x[w] || first_y[w] != last_y[w])
        printf "%s\t%s\t%d\t%s\t%s\t%.6g\t%.6g\t%.6g\t%.6g\t%d\n", w, cat[w], moved,
               last_x[w], last_y[w], dx(bl), dy(by), dx(ex), dy(ey), lead
    }
}
