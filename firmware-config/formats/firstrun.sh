#!/bin/bash
# edgefed first boot for Raspberry Pi OS Bookworm. cmdline.txt's
# "systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot
# systemd.unit=kernel-command-line.target" (Raspberry Pi Imager's mechanism)
# runs this once; systemd reboots afterwards. It sets the host name, Wi-Fi
# and an SSH admin from edgefed/firstrun.conf, runs edgefed/install.sh, then
# removes itself, that file and its cmdline.txt entry.
#
# Like Imager's script it does not stop at a failing step (set +e): stopping
# would leave the entry in cmdline.txt and the Pi booting into this forever.
set +e

boot=/boot/firmware
[ -f "$boot/edgefed/install.sh" ] || boot=/boot
# EDGEFED_HOSTNAME, WIFI_SSID, WIFI_PSK_HEX, WIFI_COUNTRY, SSH_USER, SSH_KEY
. "$boot/edgefed/firstrun.conf"
custom=/usr/lib/raspberrypi-sys-mods/imager_custom

if [ -n "$EDGEFED_HOSTNAME" ]; then
  if [ -x "$custom" ]; then
    "$custom" set_hostname "$EDGEFED_HOSTNAME"
  else
    current=$(tr -d " \t\n\r" </etc/hostname)
    echo "$EDGEFED_HOSTNAME" >/etc/hostname
    sed -i "s/127\.0\.1\.1.*$current/127.0.1.1\t$EDGEFED_HOSTNAME/g" /etc/hosts
  fi
fi

if [ -n "$SSH_KEY" ]; then
  id "$SSH_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups sudo,adm "$SSH_USER"
  home=$(getent passwd "$SSH_USER" | cut -d: -f6)
  install -d -m 0700 -o "$SSH_USER" -g "$SSH_USER" "$home/.ssh"
  echo "$SSH_KEY" >"$home/.ssh/authorized_keys"
  chown "$SSH_USER:$SSH_USER" "$home/.ssh/authorized_keys"
  chmod 0600 "$home/.ssh/authorized_keys"
  # Key only: the user has no password, so sudo may not ask for one. The
  # directory is made if missing (sudo's package makes it 0750; an image
  # trimmed of sudo has none), so the rule is in place once sudo is.
  install -d -m 0750 /etc/sudoers.d
  echo "$SSH_USER ALL=(ALL) NOPASSWD:ALL" >/etc/sudoers.d/010-edgefed-admin
  chmod 0440 /etc/sudoers.d/010-edgefed-admin
  systemctl enable ssh
  # The first-boot wizard would otherwise ask a keyboard for a user.
  systemctl disable userconfig.service 2>/dev/null
fi

if [ -n "$WIFI_SSID" ]; then
  if [ -x "$custom" ]; then
    "$custom" set_wlan "$WIFI_SSID" "$WIFI_PSK_HEX" "$WIFI_COUNTRY"
  else
    # Bookworm's NetworkManager reads keyfiles; the PSK is the derived key, not the passphrase.
    file=/etc/NetworkManager/system-connections/edgefed-wifi.nmconnection
    install -d -m 0700 /etc/NetworkManager/system-connections
    printf '[connection]\nid=edgefed-wifi\ntype=wifi\nautoconnect=true\n\n[wifi]\nmode=infrastructure\nssid=%s\n\n[wifi-security]\nkey-mgmt=wpa-psk\npsk=%s\n\n[ipv4]\nmethod=auto\n\n[ipv6]\nmethod=auto\n' \
      "$WIFI_SSID" "$WIFI_PSK_HEX" >"$file"
    chmod 0600 "$file"
    command -v iw >/dev/null && iw reg set "$WIFI_COUNTRY"
    rfkill unblock wifi 2>/dev/null
    for state in /var/lib/systemd/rfkill/*:wlan; do [ -e "$state" ] && echo 0 >"$state"; done
  fi
fi

sh "$boot/edgefed/install.sh"

# The cmdline.txt entry goes first and reaches the card before the script is
# deleted (FAT keeps no order): a power cut in between must not leave an entry
# pointing at a missing script, which would hold the Pi in this target.
sed -i -e 's| systemd\.run=[^ ]*||g' -e 's| systemd\.run_success_action=[^ ]*||g' -e 's| systemd\.unit=kernel-command-line\.target||g' "$boot/cmdline.txt"
sync
rm -f "$boot/edgefed/firstrun.conf" "$boot/firstrun.sh"
sync
exit 0
