//! Minimal VNC (RFB 3.8) clients for driving QEMU's VNC events: a client
//! that connects and leaves after the version exchange ([`touch`],
//! [`flood`]), and one that completes the handshake and stays
//! ([`VncConsole`]). The protocol is RFC 6143.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// The protocol version QEMU offers and these clients answer.
pub const RFB_VERSION: &[u8; 12] = b"RFB 003.008\n";

/// The security type "None" (RFC 6143, 7.2.1).
const SECURITY_NONE: u8 = 1;
/// Longest desktop name accepted in `ServerInit`.
const NAME_LIMIT: u32 = 4096;

fn connect(port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads the server's 12-byte version greeting and answers it.
fn exchange_versions(stream: &mut TcpStream) -> io::Result<()> {
    let mut greeting = [0u8; 12];
    stream.read_exact(&mut greeting)?;
    if !greeting.starts_with(b"RFB ") {
        return Err(bad(format!("not a VNC server: {greeting:?}")));
    }
    stream.write_all(RFB_VERSION)
}

/// One short VNC visit to `127.0.0.1:port`: connect, read the version
/// greeting, answer it, close. QEMU emits `VNC_CONNECTED` and, once it
/// notices the close, `VNC_DISCONNECTED`.
///
/// # Errors
///
/// Connecting, reading or writing failed or timed out, or the server is not
/// a VNC server.
pub fn touch(port: u16, timeout: Duration) -> io::Result<()> {
    let mut stream = connect(port, timeout)?;
    exchange_versions(&mut stream)?;
    // Shutting down may fail if QEMU closed first; the visit happened.
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

/// `pairs` visits one after another (a flapping client). Returns the
/// number made; stops at the first error.
///
/// # Errors
///
/// The first visit that failed, with how many succeeded before it.
pub fn flood(port: u16, pairs: u64, timeout: Duration) -> io::Result<u64> {
    for done in 0..pairs {
        touch(port, timeout).map_err(|e| io::Error::new(e.kind(), format!("visit {done}: {e}")))?;
    }
    Ok(pairs)
}

/// A VNC client that completed the handshake (security type None,
/// `ClientInit`, `ServerInit`) and stays connected until dropped. QEMU
/// emits `VNC_CONNECTED`, `VNC_INITIALIZED`, and `VNC_DISCONNECTED` when
/// it closes.
#[derive(Debug)]
pub struct VncConsole {
    stream: TcpStream,
    /// The desktop size from `ServerInit`.
    pub size: (u16, u16),
    /// The desktop name from `ServerInit`.
    pub name: String,
}

impl VncConsole {
    /// Connects to `127.0.0.1:port` and completes the handshake.
    ///
    /// # Errors
    ///
    /// Connecting, reading or writing failed or timed out, or the server
    /// does not offer security type None or refuses the connection.
    pub fn open(port: u16, timeout: Duration) -> io::Result<VncConsole> {
        let mut s = connect(port, timeout)?;
        exchange_versions(&mut s)?;
        let mut count = [0u8; 1];
        s.read_exact(&mut count)?;
        let mut types = vec![0u8; usize::from(count[0])];
        s.read_exact(&mut types)?;
        if !types.contains(&SECURITY_NONE) {
            return Err(bad(format!("security type None not offered: {types:?}")));
        }
        s.write_all(&[SECURITY_NONE])?;
        let mut result = [0u8; 4];
        s.read_exact(&mut result)?;
        if result != [0; 4] {
            return Err(bad(format!("security handshake failed: {result:?}")));
        }
        s.write_all(&[1])?; // ClientInit: shared
        let mut init = [0u8; 24]; // width, height, pixel format, name length
        s.read_exact(&mut init)?;
        let size = (
            u16::from_be_bytes([init[0], init[1]]),
            u16::from_be_bytes([init[2], init[3]]),
        );
        let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]);
        if name_len > NAME_LIMIT {
            return Err(bad(format!("desktop name of {name_len} bytes")));
        }
        let mut name = vec![0u8; name_len as usize];
        s.read_exact(&mut name)?;
        Ok(VncConsole {
            stream: s,
            size,
            name: String::from_utf8_lossy(&name).into_owned(),
        })
    }

    /// The client's own port, as QEMU reports it (`service` in
    /// `query-vnc` and the VNC events).
    ///
    /// # Errors
    ///
    /// `getsockname` failed.
    pub fn local_port(&self) -> io::Result<u16> {
        Ok(self.stream.local_addr()?.port())
    }
}
