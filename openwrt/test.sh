#!/bin/sh
# Run by the openwrt/packages CI on the target for each built package:
#   $1 = package name, $2 = package version (PKG_VERSION)
# Checks print what they find (no grep -q) so the output reaches the log.

case "$1" in
	mtgsy-ddns)
		mtgsy-ddns --version
		mtgsy-ddns --version | grep -F "mtgsy-ddns $2"
		;;
	ddns-scripts-mtgsy)
		ls -l /usr/share/ddns/default/mtgsy.net.json /usr/lib/ddns/update_mtgsy_net.sh
		grep -F '"name": "mtgsy.net"' /usr/share/ddns/default/mtgsy.net.json
		;;
	libmtgsy-ddns)
		ls -l /usr/lib/libmtgsy_ddns.so
		;;
esac
