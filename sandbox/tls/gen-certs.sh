#!/usr/bin/env bash
# Generates the sandbox's test PKI with openssl into OUT (once: an existing OUT/done is kept).
#   gen-certs.sh OUT
# Writes (PEM):
#   ca.pem / ca.key                  the test CA ("podero sandbox test CA")
#   valid.pem / valid.key            127.0.0.1 + localhost, signed by the CA, valid ~10 years
#   expired.pem / expired.key        the same names, signed by the CA, expired in 2020
#   wronghost.pem / wronghost.key    only wrong-host.invalid, signed by the CA, valid
#   unknownca.pem / unknownca.key    127.0.0.1 + localhost, signed by a second CA that is not in ca.pem
#   other-ca.pem                     that second CA (trusted by nobody)
# EC P-256 keys, so that generation takes a few tens of milliseconds.
# The expired certificate is made with `openssl ca -startdate/-enddate` (openssl 3.0's `x509`
# has no -not_before, and faketime is not available).
set -euo pipefail
out="${1:?usage: gen-certs.sh OUT}"
[ -s "$out/done" ] && exit 0
mkdir -p "$out"
cd "$out"
rm -rf ca-db && mkdir ca-db
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }

# two self-signed CAs
for ca in ca other-ca; do
  key "$ca.key"
  openssl req -x509 -new -key "$ca.key" -sha256 -days 3650 -subj "/O=podero sandbox/CN=podero sandbox $ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$ca.pem" 2>/dev/null
done

cat >ca-db/openssl.cnf <<CNF
[ ca ]
default_ca = sandbox_ca
[ sandbox_ca ]
dir = $out/ca-db
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = pol_any
unique_subject = no
copy_extensions = none
[ pol_any ]
commonName = supplied
[ ext_good ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[ ext_wrong ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong-host.invalid
CNF

leaf() { # NAME CA EXT STARTDATE ENDDATE
  local name="$1" ca="$2" ext="$3" start="$4" end="$5"
  : >ca-db/index.txt
  printf '%s\n' "$(openssl rand -hex 8)" >ca-db/serial
  key "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$name" -out "ca-db/$name.csr" 2>/dev/null
  openssl ca -batch -notext -config ca-db/openssl.cnf -cert "$ca.pem" -keyfile "$ca.key" \
    -extensions "$ext" -startdate "$start" -enddate "$end" \
    -in "ca-db/$name.csr" -out "$name.pem" >/dev/null 2>ca-db/err.log || { cat ca-db/err.log >&2; exit 1; }
}

leaf valid      ca       ext_good  20240101000000Z 20340101000000Z
leaf expired    ca       ext_good  20190101000000Z 20200101000000Z
leaf wronghost  ca       ext_wrong 20240101000000Z 20340101000000Z
leaf unknownca  other-ca ext_good  20240101000000Z 20340101000000Z
rm -rf ca-db
chmod 644 ./*.pem
echo ok >done
