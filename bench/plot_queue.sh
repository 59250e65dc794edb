#!/bin/sh
# Turns the CSV written by bench_queue into a PNG (needs gnuplot; Debian:
# apt-get install gnuplot-nox). The CSV alone is enough: the benchmark is
# not run again.
#   bench/plot_queue.sh [bench_queue.csv] [bench_queue.png] [host] [date]
# host and date go into the title: by default `uname -n` with the CPU count
# and the date in the CSV's name (queue-YYYY-MM-DD.csv), else the CSV's
# modification date. Transports are named as in the README's tables.
set -eu
csv=${1:-bench_queue.csv}
png=${2:-bench_queue.png}
host=${3:-"$(uname -n), $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs"}
date=${4:-$(basename "$csv" | sed -n 's/.*\([0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\}\).*/\1/p')}
[ -n "$date" ] || date=$(date -u -r "$csv" +%Y-%m-%d)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The README's names for bench_queue's transport keys, double-quoted (one
# column of a gnuplot data file, one word of a gnuplot word list).
names='function label(t) {
  if (t == "xipc_zc") t = "xipc zero-copy"
  if (t == "posix_mq") t = "POSIX mq"
  if (t == "seqpacket") t = "AF_UNIX seqpacket"
  if (t == "boost_mq") t = "Boost message_queue"
  return "\"" t "\""
}'

# Throughput table: transport, 1p1c, 4p1c (M msgs/s; "-" where not measured).
awk -F, "$names"'
  NR > 1 && $1 == "1p1c" { one[$2] = $4 / 1e6; order[++n] = $2 }
  NR > 1 && $1 == "4p1c" { four[$2] = $4 / 1e6 }
  END { for (i = 1; i <= n; i++) { t = order[i]
          printf "%s %g %s\n", label(t), one[t], (t in four) ? four[t] : "-" } }' \
  "$csv" >"$tmp/tput.dat"
# Round trips: transport, prompt p50, sleeping p50 (us).
awk -F, "$names"'
  NR > 1 && $1 == "pingpong_p50" { pp[$2] = $4; order[++n] = $2 }
  NR > 1 && $1 == "sleeping_p50" { sl[$2] = $4 }
  END { for (i = 1; i <= n; i++) printf "%s %g %g\n", label(order[i]), pp[order[i]], sl[order[i]] }' \
  "$csv" >"$tmp/rtt.dat"
# MB/s by size, one block per transport.
awk -F, 'NR > 1 && $1 == "size_mbs" { if ($2 != last && last != "") print "\n"; print $2, $3, $4; last = $2 }' \
  "$csv" >"$tmp/size.dat"
transports=$(awk -F, "$names"'
  NR > 1 && $1 == "size_mbs" && !seen[$2]++ { printf "%s ", label($2) }' "$csv")

# What has no bar or point, and why (only what this CSV lacks).
notes=""
if awk -F, 'NR > 1 && $1 == "1p1c" && $2 == "seqpacket" { s = 1 } NR > 1 && $1 == "4p1c" && $2 == "seqpacket" { f = 1 }
            END { exit !(s && !f) }' "$csv"; then
  notes="no 4P1C bar for AF_UNIX seqpacket: a connected socket has one sender per receiver"
fi
if awk -F, 'NR > 1 && $1 == "size_mbs" && $2 == "posix_mq" { n++; if ($3 > m) m = $3 } END { exit !(n && m < 65536) }' "$csv"; then
  notes="${notes:+$notes\\n}no POSIX mq points above 8 KiB: its message size is capped (fs.mqueue.msgsize_max)"
fi
notes="${notes:+$notes\\n}Short bars are small values (see the README tables), not missing ones."

gnuplot <<GP
set terminal pngcairo size 1500,600 font ",10" noenhanced
set output "$png"
set datafile missing "-"
set multiplot layout 1,3 title "xipc queue vs peers (64-byte messages unless noted) - $host - $date" margins 0.05,0.98,0.27,0.88 spacing 0.06
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set title "throughput (M msgs/s, higher is better)"
set xtics rotate by -30
set label 1 "$notes" at screen 0.05, screen 0.075 left font ",9"
plot "$tmp/tput.dat" using 2:xtic(1) title "1 producer, 1 consumer", '' using 3 title "4 producers, 1 consumer"
unset label 1
set title "round trip p50 (us, lower is better)"
set logscale y
plot "$tmp/rtt.dat" using 2:xtic(1) title "peer answers at once", '' using 3 title "both sides sleep"
unset logscale y
set style data linespoints
set title "1P1C bandwidth by message size (MB/s)"
set logscale xy
set xlabel "message size (bytes)"
set key left top
words = '$transports'
plot for [i=0:words(words)-1] "$tmp/size.dat" index i using 2:3 title word(words, i+1)
unset multiplot
GP
echo "wrote $png"
