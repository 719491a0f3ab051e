#!/usr/bin/env bash
# FIX interop test against QuickFIX (C++, Debian's libquickfix-dev):
#   1. build the exchange with the FIX gateway and the QuickFIX initiator;
#   2. start the exchange (24x7 calendar, fresh data directory) with three FIX sessions;
#   3. phase 1: logon, security list, place / amend / trade / status / cancel, rejects;
#      garbled and malformed input over a raw socket (garble.py);
#   4. restart the exchange; phase 2: logon with the stored sequence numbers, cancel the order
#      left working, mass cancel.
# Exits non-zero on any failure. Run from anywhere; needs root (or the packages) for apt-get.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

if [ ! -f /usr/include/quickfix/Application.h ]; then
  echo "installing libquickfix-dev"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq libquickfix-dev g++ >/dev/null
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building"
# The test profile: the same build `cargo test` makes.
cargo build --profile test -q -p tokex-fix --bin tokex-fix-harness
g++ -std=c++14 -Wno-deprecated -O1 -o "$work/initiator" "$here/initiator.cpp" -lquickfix -lpthread

port=$(( 20000 + RANDOM % 20000 ))
hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
cat > "$work/fix.toml" <<EOF
listen = "127.0.0.1:$port"

[[sessions]]
sender_comp_id = "BUYER"
target_comp_id = "TOKEX"
account = 2
password_sha256 = "$(hash buyer-secret)"

[[sessions]]
sender_comp_id = "SELLER"
target_comp_id = "TOKEX"
account = 3
password_sha256 = "$(hash seller-secret)"

[[sessions]]
sender_comp_id = "RAW"
target_comp_id = "TOKEX"
account = 4
password_sha256 = "$(hash raw-secret)"
cancel_on_disconnect = true
EOF
cat > "$work/initiator.cfg" <<EOF
[DEFAULT]
ConnectionType=initiator
BeginString=FIX.4.4
TargetCompID=TOKEX
SocketConnectHost=127.0.0.1
SocketConnectPort=$port
HeartBtInt=5
ReconnectInterval=1
FileStorePath=$work/qf-store
FileLogPath=$work/qf-log
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=Y
DataDictionary=$here/FIX44.xml
ResetOnLogon=N
ValidateUserDefinedFields=N

[SESSION]
SenderCompID=BUYER

[SESSION]
SenderCompID=SELLER
EOF

start_server() {
  ./target/debug/tokex-fix-harness --fix "$work/fix.toml" --data-dir "$work/data" --calendar 24x7 \
    >>"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    if grep -q "FIX gateway listening" "$work/server.log" 2>/dev/null; then return 0; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.2
  done
  echo "the exchange did not start:"; cat "$work/server.log"; exit 1
}
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || { echo "the exchange did not stop cleanly:"; tail -20 "$work/server.log"; exit 1; }
  server_pid=""
}
fail() { echo "interop FAILED: $1"; echo "--- server log"; tail -40 "$work/server.log"; exit 1; }

echo "== starting the exchange"
start_server
ref=$(grep -m1 "harness: reference" "$work/server.log" | awk '{print $3, $4}')
symbol=${ref% *}
price=${ref#* }
echo "   $symbol reference price $price, FIX on port $port"

echo "== phase 1 (QuickFIX)"
"$work/initiator" "$work/initiator.cfg" phase1 "$symbol" "$price" || fail "phase 1"
echo "== garbled input (raw socket)"
python3 "$here/garble.py" "$port" || fail "garbled input"

echo "== restarting the exchange"
stop_server
start_server
echo "== phase 2 (QuickFIX, same sequence-number store)"
"$work/initiator" "$work/initiator.cfg" phase2 "$symbol" "$price" || fail "phase 2"
stop_server
echo "interop: 3 passed, 0 failed"
