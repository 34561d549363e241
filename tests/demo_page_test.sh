#!/usr/bin/env bash
# The demo page in a real headless browser: scripts/demo.sh writes a page
# into a temporary folder; Chromium loads it with a small check script that
# runs after the load event and fails on any image that did not load
# (missing or undecodable) or on a blank page. A copy with one picture
# deleted must fail the same check. Skipped (exit 77) without chromium.
# Usage: demo_page_test.sh SOURCE_DIR COLORIZE_BIN
set -euo pipefail
src=$1 bin=$2
chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chromium" ]; then
  echo "SKIP: chromium is not installed (apt-get install chromium); the demo page was not checked"
  exit 77
fi
tmp=$(mktemp -d /tmp/cz_demo_page_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$src/scripts/demo.sh" --bin "$bin" --out "$tmp/demo" >"$tmp/demo.log" 2>&1 ||
  { cat "$tmp/demo.log"; echo "demo_page_test: scripts/demo.sh failed"; exit 1; }

# The page plus a check run once everything has loaded (or failed to).
checked_page() {
  sed 's|</body>|<script>\
window.addEventListener("load", function () {\
  var imgs = document.images, bad = [];\
  for (var i = 0; i < imgs.length; i++)\
    if (!imgs[i].complete \|\| imgs[i].naturalWidth === 0) bad.push(imgs[i].getAttribute("src"));\
  var text = document.body.innerText.trim().length, h = document.body.scrollHeight;\
  var r = document.createElement("pre"); r.id = "czcheck";\
  r.textContent = (imgs.length === 0 \|\| bad.length \|\| text < 20 \|\| h < 100 ? "FAIL" : "PASS") +\
    " images=" + imgs.length + " broken=" + bad.join(",") + " text=" + text + " height=" + h;\
  document.body.appendChild(r);\
});\
</script></body>|' "$1/index.html" > "$1/check.html"
}
check() { # DIR: prints the check's line
  checked_page "$1"
  timeout 60 "$chromium" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --allow-file-access-from-files --virtual-time-budget=10000 --dump-dom "file://$1/check.html" \
    2>"$1/chromium.err" | grep -o 'id="czcheck">[^<]*' | sed 's/.*>//' || true
}

result=$(check "$tmp/demo")
echo "demo page: ${result:-no result (see chromium.err)}"
case $result in PASS*) ;; *) cat "$tmp/demo/chromium.err" | tail -5; exit 1 ;; esac

# Negative control: one colourised picture missing must be caught.
cp -r "$tmp/demo" "$tmp/broken"
rm "$(ls "$tmp/broken/colour/"*.png | head -1)"
result=$(check "$tmp/broken")
echo "page with a missing picture: $result"
case $result in FAIL*broken=colour/*) ;; *) echo "demo_page_test: a missing image was not detected"; exit 1 ;; esac
echo "demo_page_test: ok"
