# Sourced by the scripts: puts the bootstrapped Go first on PATH and tells the
# interop tests where the Delta Chat core is.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$root/.cache/go/bin:$PATH"
if [ -z "${DELTACHAT_RPC_SERVER:-}" ]; then
  for f in "$root"/.cache/deltachat/node_modules/@deltachat/stdio-rpc-server-linux-*/deltachat-rpc-server; do
    [ -x "$f" ] && export DELTACHAT_RPC_SERVER="$f"
  done
fi
