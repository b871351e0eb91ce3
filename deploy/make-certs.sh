#!/usr/bin/env bash
# Certificates for a course's Dask engine with TLS (mutual authentication): a private CA, and a certificate
# with its key for the scheduler, the workers and the clients (the web processes). Dask checks both ends
# against the CA, so only holders of a certificate it signed can reach the scheduler or a worker.
#
#   deploy/make-certs.sh DIR [HOST] [DAYS]     # HOST: the scheduler's name or IP [127.0.0.1]; DAYS [365]
#
# Writes DIR/ca.pem (give it to every machine), DIR/{scheduler,worker,client}.pem and …-key.pem (each key
# mode 0600; copy worker.pem/worker-key.pem to the worker machines, client.pem/client-key.pem to the web
# processes' machine), and DIR/ca-key.pem (keep it private, or delete it: it only signs new certificates).
# Needs openssl (Debian: apt install openssl). deploy/classroom.sh --tls runs it when its TLS folder is empty.
set -euo pipefail
[[ $# -ge 1 && "$1" != -h && "$1" != --help ]] || { sed -n '2,11p' "$0"; exit 2; }
DIR="$1" HOST="${2:-127.0.0.1}" DAYS="${3:-365}"
mkdir -p "$DIR"
umask 077
cd "$DIR"
if [[ "$HOST" =~ ^[0-9.]+$ || "$HOST" == *:* ]]; then SAN="IP:$HOST"; else SAN="DNS:$HOST"; fi
[[ "$HOST" == 127.0.0.1 ]] || SAN="$SAN,IP:127.0.0.1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$DAYS" \
  -subj "/CN=explainer-course-ca" -keyout ca-key.pem -out ca.pem 2>/dev/null
for who in scheduler worker client; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=explainer-$who" \
    -keyout "$who-key.pem" -out "$who.csr" 2>/dev/null
  openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days "$DAYS" \
    -extfile <(printf 'subjectAltName=%s,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' "$SAN") \
    -out "$who.pem" 2>/dev/null
  rm -f "$who.csr"
done
rm -f ca.srl
chmod 0644 ca.pem scheduler.pem worker.pem client.pem
echo "certificates for $HOST in $DIR (valid $DAYS days)"
