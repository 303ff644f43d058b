#!/bin/bash
# The Host's agent, as far as the Manager can tell: once the Manager has registered this Host with its
# current host key, a heartbeat every TB_HB_MS (POST /testbed/heartbeat {host_id: FQDN}), as the flexVDI agent
# keeps a registered Host "running". It runs inside the Host (network namespace, freezer cgroup), so
# link-down, freeze and replace stop it honestly; a replaced Host (new host key) stays silent until it is
# registered again.
#
# Each cycle one curl logs in and reads GET /hosts/<FQDN>; when the record carries this Host's key, a second
# curl sends a batch of heartbeats over one kept-alive TLS connection, paced by --rate (no process per beat).
# Unregistered, it looks again every 5 heartbeat intervals. -k: this channel is not what the product tests.
set -u
R=/run/flexvdi-testbed
jar=$R/agent.cookies
record=$R/agent-host.json
per_minute=$((60000 / TB_HB_MS))
batch=$((per_minute > 0 ? per_minute : 1))
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
curl_opts=(-sk --connect-timeout 2 --max-time 4 -H 'content-type: application/json')
while :; do
  read -r _ mykey _ </etc/ssh/ssh_host_ed25519_key.pub
  rm -f "$record"
  curl "${curl_opts[@]}" -o /dev/null -c "$jar" --data-binary "@$TB_AGENT_AUTH" "$TB_MANAGER_URL/authenticate" \
    --next "${curl_opts[@]}" -f -b "$jar" -o "$record" "$TB_MANAGER_URL/hosts/$TB_FQDN"
  if [ -s "$record" ] && grep -qF "$mykey" "$record"; then
    curl "${curl_opts[@]}" -b "$jar" --rate "$per_minute/m" --data-binary "{\"host_id\":\"$TB_FQDN\"}" \
      "$TB_MANAGER_URL/testbed/heartbeat?beat=[1-$batch]"
  else
    sleep "$(secs $((TB_HB_MS * 5)))"
  fi
  sleep "$(secs "$TB_HB_MS")"
done
