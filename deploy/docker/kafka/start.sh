#!/bin/bash
# Starts one compose broker (KAFKA_NODE_ID 1..3) with authentication: formats its storage once with the
# admin's SCRAM credentials (they cannot be added later without a running broker), then runs it.
set -euo pipefail
config=/tmp/server.properties
node="${KAFKA_NODE_ID:?}"
sed -e "s/@NODE_ID@/${node}/g" -e "s/@EXTERNAL_PORT@/$((9093 + node))/g" \
  -e "s/@ADMIN_PASSWORD@/${KAFKA_ADMIN_PASSWORD:?}/" -e "s/@CONTROLLER_PASSWORD@/${KAFKA_CONTROLLER_PASSWORD:?}/" \
  /alliance/kafka/server.properties > "$config"
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  /opt/kafka/bin/kafka-storage.sh format --cluster-id "${CLUSTER_ID:?}" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=${KAFKA_ADMIN_PASSWORD}]" -c "$config"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$config"
