#!/usr/bin/env bash
# The CPU as the bench scripts name it: "MODEL NAME (family F, model M)", the
# same text as `colorize bench` prints. A VM's bare "AMD EPYC" is Zen 4 at
# family 25 and Zen 5 at 26, whose AVX-512 peaks differ by 2x.
awk -F': *' '
  /^model name/ && !n { n = $2 }
  /^cpu family/ && !f { f = $2 }
  /^model[ \t]*:/ && !m { m = $2 }
  END { if (n == "") print "unknown CPU"; else if (f == "") print n; else printf "%s (family %s, model %s)\n", n, f, m }
' /proc/cpuinfo 2>/dev/null || echo "unknown CPU"
