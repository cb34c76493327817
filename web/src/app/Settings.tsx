// Privacy (who sees my last seen), notifications (Web Push on this device),
// my devices (rename, remove), log out.
import { useEffect, useState } from "preact/hooks";
import type { Device, PrivacySetting } from "../api/types";
import { useChat } from "./context";
import { disablePush, enablePush, pushSupported } from "./push";
import { logoutDevice } from "./engine";

export function Settings() {
  const chat = useChat();
  const [devices, setDevices] = useState<Device[]>([]);
  const [privacy, setPrivacy] = useState<PrivacySetting>("everybody");
  const [notice, setNotice] = useState<string | null>(null);
  const reload = () => chat.api.devices.list().then((list) => setDevices(list.items)).catch(() => undefined);
  useEffect(() => {
    void reload();
    chat.api.users.settings().then((settings) => setPrivacy(settings.last_seen_visible_to)).catch(() => undefined);
  }, []);

  const act = async (work: Promise<unknown>, done: string) => {
    setNotice(null);
    try {
      await work;
      setNotice(done);
    } catch (caught) {
      setNotice(caught instanceof Error ? caught.message : "failed");
    }
  };

  return (
    <div class="page" data-testid="settings-page">
      <h2>Settings</h2>
      <h3>Privacy</h3>
      <label>
        Who sees when I was last online
        <select
          value={privacy}
          onChange={(e) => {
            const value = e.currentTarget.value as PrivacySetting;
            setPrivacy(value);
            void act(chat.api.users.updateSettings({ last_seen_visible_to: value }), "Saved");
          }}
          data-testid="privacy-last-seen"
        >
          <option value="everybody">Everybody</option>
          <option value="contacts">My contacts</option>
          <option value="nobody">Nobody</option>
        </select>
      </label>
      <h3>Notifications</h3>
      <button onClick={() => void act(chat.api.users.updateSettings({ notifications: true }), "Notifications on")} data-testid="notifications-on">On</button>
      <button onClick={() => void act(chat.api.users.updateSettings({ notifications: false }), "Notifications off")} data-testid="notifications-off">Off</button>
      {pushSupported() && (
        <>
          <button onClick={() => void act(enablePush(chat.api, chat.me.deviceId), "Push enabled on this device")} data-testid="push-enable">Enable push on this device</button>
          <button onClick={() => void act(disablePush(chat.api, chat.me.deviceId), "Push disabled on this device")} data-testid="push-disable">Disable push</button>
        </>
      )}
      <h3>Devices</h3>
      <ul class="list" data-testid="device-list">
        {devices.map((device) => (
          <li key={device.device_id} data-testid="device" data-device-id={device.device_id} data-current={String(device.current)}>
            <span>{device.name ?? "Unnamed device"}{device.current ? " (this one)" : ""}</span>
            <span class="muted">{device.last_seen_at ? new Date(device.last_seen_at).toLocaleString() : ""}</span>
            {!device.current && (
              <button onClick={() => void act(chat.api.devices.remove(device.device_id).then(reload), "Device removed")} data-testid="device-remove">
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      <button onClick={() => { chat.stop(); void logoutDevice(chat.api, chat.me); }} data-testid="logout">Log out</button>
      {notice && <p class="muted" data-testid="settings-notice">{notice}</p>}
    </div>
  );
}
