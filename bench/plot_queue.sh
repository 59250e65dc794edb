#!/bin/sh
# Turns the CSV written by bench_queue into a PNG (needs gnuplot; Debian:
# apt-get install gnuplot-nox).
#   bench/plot_queue.sh [bench_queue.csv] [bench_queue.png]
set -eu
csv=${1:-bench_queue.csv}
png=${2:-bench_queue.png}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Throughput table: transport, 1p1c, 4p1c (M msgs/s).
awk -F, 'NR > 1 && $1 == "1p1c" { one[$2] = $4 / 1e6; order[++n] = $2 }
         NR > 1 && $1 == "4p1c" { four[$2] = $4 / 1e6 }
         END { for (i = 1; i <= n; i++) printf "%s %g %g\n", order[i], one[order[i]], four[order[i]] + 0 }' \
  "$csv" >"$tmp/tput.dat"
# Round trips: transport, prompt p50, sleeping p50 (us).
awk -F, 'NR > 1 && $1 == "pingpong_p50" { pp[$2] = $4; order[++n] = $2 }
         NR > 1 && $1 == "sleeping_p50" { sl[$2] = $4 }
         END { for (i = 1; i <= n; i++) printf "%s %g %g\n", order[i], pp[order[i]], sl[order[i]] }' \
  "$csv" >"$tmp/rtt.dat"
# MB/s by size, one block per transport.
awk -F, 'NR > 1 && $1 == "size_mbs" { if ($2 != last && last != "") print "\n"; print $2, $3, $4; last = $2 }' \
  "$csv" >"$tmp/size.dat"
transports=$(awk -F, 'NR > 1 && $1 == "size_mbs" && !seen[$2]++ { printf "%s ", $2 }' "$csv")

gnuplot <<GP
set terminal pngcairo size 1500,500 font ",10" noenhanced
set output "$png"
set multiplot layout 1,3 title "xipc queue vs peers (64-byte messages unless noted)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set title "throughput (M msgs/s, higher is better)"
set xtics rotate by -30
plot "$tmp/tput.dat" using 2:xtic(1) title "1 producer, 1 consumer", '' using 3 title "4 producers, 1 consumer"
set title "round trip p50 (us, lower is better)"
set logscale y
plot "$tmp/rtt.dat" using 2:xtic(1) title "peer answers at once", '' using 3 title "both sides sleep"
unset logscale y
set style data linespoints
set title "1p1c bandwidth by message size (MB/s)"
set logscale xy
set xlabel "message size (bytes)"
set key left top
words = "$transports"
plot for [i=0:words(words)-1] "$tmp/size.dat" index i using 2:3 title word(words, i+1)
unset multiplot
GP
echo "wrote $png"
