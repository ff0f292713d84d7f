#!/bin/sh
# Run by the openwrt/packages CI on the target for each built package:
#   $1 = package name, $2 = package version (PKG_VERSION)
# Checks print what they find (no grep -q) so the output reaches the log.

case "$1" in
	mtgsy-ddns)
		mtgsy-ddns --version
		mtgsy-ddns --version | grep -F "mtgsy-ddns $2"
		ls -l /etc/init.d/mtgsy-ddns /etc/config/mtgsy-ddns \
			/etc/hotplug.d/iface/96-mtgsy-ddns /usr/lib/mtgsy-ddns/common.sh
		# the rate guard's state survives a sysupgrade
		grep -Fx /etc/mtgsy-ddns/state.json /lib/upgrade/keep.d/mtgsy-ddns
		;;
	ddns-scripts-mtgsy)
		ls -l /usr/share/ddns/default/mtgsy.net.json /usr/lib/ddns/update_mtgsy_net.sh
		grep -F '"name": "mtgsy.net"' /usr/share/ddns/default/mtgsy.net.json
		;;
	libmtgsy-ddns*)
		# the runtime file is named as its SONAME; no unversioned link
		ls -l /usr/lib/libmtgsy_ddns.so.1
		[ ! -e /usr/lib/libmtgsy_ddns.so ]
		;;
esac
