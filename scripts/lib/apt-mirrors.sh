# shellcheck shell=bash
# Reads the Debian mirrors apt on this machine already uses, so scripts that
# build local images with debootstrap never hard-code a host (sourced by
# scripts/build-sandbox-image.sh and scripts/container-image-test.sh).
#
# Functions read apt's configuration from $apt_etc (default /etc/apt).

# Prints "<suite> <uri>" for every enabled `deb` source: deb822 *.sources files
# (Types/URIs/Suites/Enabled stanzas) and classic one-line `deb` entries.
apt_sources() {
  local etc=${apt_etc:-/etc/apt} f
  for f in "$etc"/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no")
          for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print s[j], u[i]
        types = ""; enabled = "yes"; nu = 0; ns = 0
      }
      BEGIN { enabled = "yes" }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[A-Za-z-]+:/ {
        key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^[ \t]+/, "")
        if (key == "types") types = $0
        else if (key == "enabled") enabled = $0
        else if (key == "uris") nu = split($0, u, /[ \t]+/)
        else if (key == "suites") ns = split($0, s, /[ \t]+/)
      }
      END { flush() }
    ' "$f"
  done
  for f in "$etc"/sources.list "$etc"/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    # deb [options] uri suite components...
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $3, $2 }'
  done
}

# The first http(s) mirror serving exactly "$1" (a suite name).
mirror_for() {
  # Reads all input (no early exit): with pipefail an early exit would fail the pipe with SIGPIPE.
  apt_sources | awk -v want="$1" '$1 == want && $2 ~ /^https?:\/\// && !found { sub(/\/+$/, "", $2); found = $2 } END { if (found) print found }'
}

# This host's Debian codename (the suite to bootstrap), bookworm when unknown.
host_suite() {
  (. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
}
