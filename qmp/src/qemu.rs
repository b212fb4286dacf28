//! [`QemuVm`]: a throwaway QEMU for the example and the tests. It runs the
//! story's VM: paused at start (`-S`), a VNC server on 127.0.0.1, two QMP
//! sockets (one for the bridge's events, one for commands), and a disk whose
//! every write fails with ENOSPC, from which a boot sector boots that does
//! nothing but write to that disk.
//!
//! Everything lives in a temporary directory; dropping the `QemuVm` kills
//! QEMU and removes the directory, also when a test panics.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::QmpClient;
use crate::error::QmpError;

/// The environment variable naming the QEMU binary; without it,
/// `qemu-system-x86_64` is looked up in `PATH`.
pub const QEMU_ENV: &str = "QEMU_SYSTEM_X86_64";

/// The blkdebug rule that makes every write fail with `errno` 28, ENOSPC.
pub const BLKDEBUG_ENOSPC: &str = "[inject-error]\nevent = \"pwritev\"\nerrno = \"28\"\n";

/// The boot drive's name in `query-block` and `BLOCK_IO_ERROR`.
pub const DISK: &str = "disk0";

/// Size of the disk image: room for a few cylinders, so the BIOS sees an
/// ordinary hard disk.
const DISK_BYTES: u64 = 4 << 20;
/// First VNC display to try; offset by the process id so that parallel
/// runs start apart.
const FIRST_DISPLAY: u16 = 40;
const DISPLAYS: u16 = 400;
/// VMs launched by this process, times 7.
static LAUNCHES: AtomicU16 = AtomicU16::new(0);
/// Attempts to start QEMU when its display was taken meanwhile.
const LAUNCH_ATTEMPTS: usize = 5;
/// How long QEMU may take to create its QMP sockets.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The QEMU binary to run: `$QEMU_SYSTEM_X86_64`, or `qemu-system-x86_64`
/// from `PATH`. `None` when there is none.
pub fn find_qemu() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(QEMU_ENV) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join("qemu-system-x86_64"))
        .find(|p| p.is_file())
}

/// The guest: a 512-byte x86 boot sector that writes one sector to the
/// first hard disk with BIOS `int 13h`, function `03h`, in a loop.
///
/// Loaded at `0000:7C00` in real mode:
///
/// ```text
/// 7C00  31 C0       start: xor  ax, ax
/// 7C02  8E C0              mov  es, ax        ; ES:BX = 0000:7C00, this sector
/// 7C04  BB 00 7C           mov  bx, 0x7C00
/// 7C07  B8 01 03           mov  ax, 0x0301    ; AH=03h write, AL=1 sector
/// 7C0A  B9 02 00           mov  cx, 0x0002    ; cylinder 0, sector 2
/// 7C0D  BA 80 00           mov  dx, 0x0080    ; head 0, drive 80h
/// 7C10  CD 13              int  0x13
/// 7C12  EB EC              jmp  start         ; -20: back to 7C00
/// ...   00                 (padding)
/// 7DFE  55 AA              boot signature
/// ```
///
/// ```
/// let s = eventsig_qmp::qemu::boot_sector();
/// assert_eq!((s[0], s[510], s[511]), (0x31, 0x55, 0xAA));
/// ```
pub fn boot_sector() -> [u8; 512] {
    const CODE: [u8; 20] = [
        0x31, 0xC0, // xor ax, ax
        0x8E, 0xC0, // mov es, ax
        0xBB, 0x00, 0x7C, // mov bx, 0x7C00
        0xB8, 0x01, 0x03, // mov ax, 0x0301
        0xB9, 0x02, 0x00, // mov cx, 0x0002
        0xBA, 0x80, 0x00, // mov dx, 0x0080
        0xCD, 0x13, // int 0x13
        0xEB, 0xEC, // jmp short -20
    ];
    let mut sector = [0u8; 512];
    sector[..CODE.len()].copy_from_slice(&CODE);
    sector[510] = 0x55;
    sector[511] = 0xAA;
    sector
}

/// A directory removed with everything in it when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/<prefix>-<pid>-<n>`.
    ///
    /// # Errors
    ///
    /// The directory cannot be created.
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        let base = std::env::temp_dir();
        let pid = std::process::id();
        for n in 0..1000u32 {
            let path = base.join(format!("{prefix}-{pid}-{n}"));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free temporary directory name",
        ))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover directory in $TMPDIR is harmless.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Why QEMU could not be started.
#[derive(Debug)]
pub enum LaunchError {
    /// Preparing the files or spawning failed.
    Io(io::Error),
    /// QEMU exited during start-up.
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// What it wrote to stderr.
        stderr: String,
    },
    /// The QMP sockets did not appear in time.
    NoSockets,
    /// No VNC display in the probed range was free.
    NoFreeDisplay,
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::Io(e) => write!(f, "starting QEMU: {e}"),
            LaunchError::Exited { status, stderr } => {
                write!(
                    f,
                    "QEMU exited during start-up ({status}): {}",
                    stderr.trim()
                )
            }
            LaunchError::NoSockets => write!(
                f,
                "QEMU did not create its QMP sockets within {START_TIMEOUT:?}"
            ),
            LaunchError::NoFreeDisplay => f.write_str("no free VNC display on 127.0.0.1"),
        }
    }
}

impl std::error::Error for LaunchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LaunchError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for LaunchError {
    fn from(e: io::Error) -> LaunchError {
        LaunchError::Io(e)
    }
}

/// A running QEMU, killed when dropped.
#[derive(Debug)]
pub struct QemuVm {
    child: Child,
    vnc_port: u16,
    events: PathBuf,
    control: PathBuf,
    stderr: PathBuf,
    // Last: removed after QEMU is killed.
    dir: TempDir,
}

impl QemuVm {
    /// Writes the disk image (the [`boot_sector`], then zeros), the
    /// blkdebug rule and starts `qemu` paused:
    ///
    /// ```text
    /// qemu-system-x86_64 -S -M pc -nodefaults -m 32 -display none
    ///     -vnc 127.0.0.1:N
    ///     -qmp unix:DIR/events.sock,server=on,wait=off
    ///     -qmp unix:DIR/control.sock,server=on,wait=off
    ///     -drive if=ide,id=disk0,format=raw,werror=enospc,rerror=report,
    ///            file.driver=blkdebug,file.config=DIR/blkdebug.conf,
    ///            file.image.filename=DIR/disk.img
    /// ```
    ///
    /// `N` is a free display (its port probed); if another program takes
    /// it first, the next one is tried.
    ///
    /// # Errors
    ///
    /// [`LaunchError`]: the files, the spawn, QEMU exiting early, no
    /// sockets within 20 s.
    pub fn launch(qemu: &Path) -> Result<QemuVm, LaunchError> {
        let dir = TempDir::new("eventsig-qmp")?;
        let image = dir.path().join("disk.img");
        let mut disk = File::create(&image)?;
        disk.write_all(&boot_sector())?;
        disk.set_len(DISK_BYTES)?;
        drop(disk);
        let rule = dir.path().join("blkdebug.conf");
        fs::write(&rule, BLKDEBUG_ENOSPC)?;

        // Apart from other processes (by pid) and from this process's other
        // VMs (by a counter).
        let nth = LAUNCHES.fetch_add(7, Ordering::Relaxed);
        let start =
            FIRST_DISPLAY + ((std::process::id() + u32::from(nth)) % u32::from(DISPLAYS)) as u16;
        let mut display = start;
        let mut last = LaunchError::NoFreeDisplay;
        for _ in 0..LAUNCH_ATTEMPTS {
            let Some(free) = free_display(display) else {
                return Err(LaunchError::NoFreeDisplay);
            };
            match Self::start(qemu, dir.path(), &image, &rule, free) {
                Ok((child, paths)) => {
                    return Ok(QemuVm {
                        child,
                        vnc_port: 5900 + free,
                        events: paths.0,
                        control: paths.1,
                        stderr: paths.2,
                        dir,
                    })
                }
                Err(LaunchError::Exited { stderr, status }) if stderr.contains("in use") => {
                    last = LaunchError::Exited { stderr, status };
                    display = free + 1;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    #[allow(clippy::type_complexity)]
    fn start(
        qemu: &Path,
        dir: &Path,
        image: &Path,
        rule: &Path,
        display: u16,
    ) -> Result<(Child, (PathBuf, PathBuf, PathBuf)), LaunchError> {
        let events = dir.join(format!("events-{display}.sock"));
        let control = dir.join(format!("control-{display}.sock"));
        let stderr_path = dir.join(format!("qemu-{display}.stderr"));
        let qmp = |p: &Path| format!("unix:{},server=on,wait=off", p.display());
        let drive = format!(
            "if=ide,id={DISK},format=raw,werror=enospc,rerror=report,\
             file.driver=blkdebug,file.config={},file.image.filename={}",
            rule.display(),
            image.display()
        );
        let mut command = Command::new(qemu);
        command
            .args([
                "-S",
                "-M",
                "pc",
                "-nodefaults",
                "-m",
                "32",
                "-display",
                "none",
            ])
            .arg("-vnc")
            .arg(format!("127.0.0.1:{display}"))
            .arg("-qmp")
            .arg(qmp(&events))
            .arg("-qmp")
            .arg(qmp(&control))
            .arg("-drive")
            .arg(drive)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr_path)?);
        // SAFETY: the closure runs in the child between fork and exec and
        // only makes one async-signal-safe system call, `prctl`, whose
        // arguments are constants; its result is checked.
        unsafe {
            command.pre_exec(|| {
                // QEMU dies with the thread that started it, even if this
                // process is killed before `Drop` can run.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(LaunchError::Exited { status, stderr });
            }
            if events.exists() && control.exists() {
                return Ok((child, (events, control, stderr_path)));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LaunchError::NoSockets);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The VNC server's TCP port on 127.0.0.1.
    pub fn vnc_port(&self) -> u16 {
        self.vnc_port
    }

    /// The QMP socket meant for the bridge.
    pub fn event_socket(&self) -> &Path {
        &self.events
    }

    /// The QMP socket meant for commands.
    pub fn control_socket(&self) -> &Path {
        &self.control
    }

    /// The temporary directory holding the disk, the rule and the sockets.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Connects to the event socket and negotiates capabilities.
    ///
    /// # Errors
    ///
    /// As [`QmpClient::connect`].
    pub fn connect_events(&self) -> Result<QmpClient, QmpError> {
        QmpClient::connect(&self.events)
    }

    /// Connects to the command socket and negotiates capabilities.
    ///
    /// # Errors
    ///
    /// As [`QmpClient::connect`].
    pub fn connect_control(&self) -> Result<QmpClient, QmpError> {
        QmpClient::connect(&self.control)
    }

    /// What QEMU wrote to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits up to `timeout` for QEMU to exit (after `quit`).
    ///
    /// # Errors
    ///
    /// `waitpid` failed.
    pub fn wait_exit(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills QEMU now (`SIGKILL`) and reaps it: QEMU dying under the
    /// bridge.
    ///
    /// # Errors
    ///
    /// `kill` or `waitpid` failed.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        self.child.kill()?;
        self.child.wait()
    }
}

impl Drop for QemuVm {
    fn drop(&mut self) {
        // Errors mean it is already gone.
        let _ = self.kill();
    }
}

/// The first display from `from` (wrapping within the probed range) whose
/// port 5900 + display is free on 127.0.0.1.
fn free_display(from: u16) -> Option<u16> {
    (0..DISPLAYS)
        .map(|i| FIRST_DISPLAY + (from - FIRST_DISPLAY + i) % DISPLAYS)
        .find(|d| TcpListener::bind((Ipv4Addr::LOCALHOST, 5900 + d)).is_ok())
}
