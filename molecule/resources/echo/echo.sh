#!/bin/sh
# Answers one HTTP request with the backend's name, the path it received and
# the request headers, so the scenarios can check haproxy's routing.
#   /<any>/redirect-local  -> 302 to http://<Host>/landing (haproxy must make it https)
#   /<any>/redirect-away   -> 302 to http://elsewhere.invalid/ (must stay as is)
#   Upgrade: websocket     -> 101, then every byte is echoed back (a tunnel)
BB=/bin/busybox
CR=$(printf '\r')
read -r method target _
headers=""
upgrade=""
host=""
key=""
while IFS= read -r line; do
  line=${line%"$CR"}
  [ -z "$line" ] && break
  headers="$headers$line
"
  case "$line" in
    [Uu]pgrade:*websocket*) upgrade=1 ;;
    [Hh]ost:*) host=${line#*: } ;;
    [Ss]ec-[Ww]eb[Ss]ocket-[Kk]ey:*) key=${line#*: } ;;
  esac
done

if [ -n "$upgrade" ]; then
  # RFC 6455 handshake: haproxy rejects a 101 without the right accept value.
  accept=$(printf '%s' "${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11" | $BB sha1sum | $BB cut -c1-40 | $BB xxd -r -p | $BB base64)
  printf 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n' "$accept"
  exec $BB cat
fi

body="backend=$BACKEND_NAME
method=$method
path=$target
$headers"
status="200 OK"
location=""
case "$target" in
  */redirect-local) status="302 Found"; location="http://$host/landing" ;;
  */redirect-away) status="302 Found"; location="http://elsewhere.invalid/landing" ;;
esac

printf 'HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %s\r\nConnection: close\r\n' "$status" "${#body}"
[ -n "$location" ] && printf 'Location: %s\r\n' "$location"
printf '\r\n%s' "$body"
