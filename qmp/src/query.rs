//! The replies of the three queries the monitor re-polls: `query-status`
//! ([`StatusInfo`]), `query-block` ([`BlockInfo`]) and `query-vnc`
//! ([`VncInfo`]). Only the members the monitor uses; others are ignored.

use serde::Deserialize;

use crate::event::VncClient;

/// The reply of `query-status`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StatusInfo {
    /// Whether the VM's CPUs run.
    pub running: bool,
    /// The run state: `prelaunch`, `running`, `paused`, `io-error`,
    /// `shutdown`, ...
    pub status: String,
}

impl StatusInfo {
    /// Whether the VM is stopped on a disk I/O error (`io-error`).
    ///
    /// ```
    /// let s = eventsig_qmp::StatusInfo { running: false, status: "io-error".into() };
    /// assert!(s.is_io_error());
    /// ```
    pub fn is_io_error(&self) -> bool {
        !self.running && self.status == "io-error"
    }
}

/// One drive of the reply of `query-block`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BlockInfo {
    /// The drive's name.
    pub device: String,
    /// `ok`, `failed` or `nospace`; absent for drives without I/O status.
    #[serde(rename = "io-status")]
    pub io_status: Option<String>,
}

impl BlockInfo {
    /// Whether the drive's last error was ENOSPC (`io-status: nospace`).
    ///
    /// ```
    /// let b = eventsig_qmp::BlockInfo { device: "disk0".into(), io_status: Some("nospace".into()) };
    /// assert!(b.is_nospace());
    /// ```
    pub fn is_nospace(&self) -> bool {
        self.io_status.as_deref() == Some("nospace")
    }
}

/// The reply of `query-vnc`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VncInfo {
    /// Whether a VNC server runs.
    pub enabled: bool,
    /// The server's address, when enabled.
    #[serde(default)]
    pub host: Option<String>,
    /// The server's port, when enabled.
    #[serde(default)]
    pub service: Option<String>,
    /// The clients connected now.
    #[serde(default)]
    pub clients: Vec<VncClient>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_as_qemu_7_2_sends_them() {
        let s: StatusInfo = serde_json::from_str(
            r#"{"status": "io-error", "singlestep": false, "running": false}"#,
        )
        .unwrap();
        assert!(s.is_io_error());
        let b: Vec<BlockInfo> = serde_json::from_str(
            r#"[{"io-status": "nospace", "device": "disk0", "locked": false, "removable": false, "inserted": {"ro": false}, "qdev": "/machine/unattached/device[13]", "tray_open": false, "type": "unknown"}]"#,
        )
        .unwrap();
        assert!(b[0].is_nospace());
        let v: VncInfo = serde_json::from_str(
            r#"{"enabled": true, "auth": "none", "family": "ipv4", "clients": [{"family": "ipv4", "service": "32998", "host": "127.0.0.1", "websocket": false}], "service": "5957", "host": "127.0.0.1"}"#,
        )
        .unwrap();
        assert_eq!(v.clients.len(), 1);
        assert_eq!(v.clients[0].service, "32998");
        let off: VncInfo = serde_json::from_str(r#"{"enabled": false}"#).unwrap();
        assert!(off.clients.is_empty());
    }
}
